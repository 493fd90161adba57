/* The discovery image: a newc cpio of /init, busybox and the agent with
 * its libraries (provision/discovery.h, docs/discovery.md). */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/discovery.h"

#ifndef KF_DATADIR
#define KF_DATADIR "/usr/local/share/kickfleet"
#endif

#define FILE_MAX (64u << 20)
#define LIBS_MAX 128

static const char *const lib_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
};

/* ---- ELF: DT_NEEDED and PT_INTERP ---- */

static bool in(size_t len, uint64_t off, uint64_t n)
{
	return off <= len && n <= len - off;
}

/* File offset of a virtual address, through the PT_LOAD segments. */
static bool vaddr_off(const Elf64_Phdr *ph, size_t nph, uint64_t va, uint64_t *off)
{
	for (size_t i = 0; i < nph; i++)
		if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr && va - ph[i].p_vaddr < ph[i].p_filesz) {
			*off = ph[i].p_offset + (va - ph[i].p_vaddr);
			return true;
		}
	return false;
}

int kf_elf_needed(const char *data, size_t len, char ***names, size_t *n, char **interp)
{
	*interp = NULL;
	const Elf64_Ehdr *eh = (const void *)data;
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) || !in(len, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
		return -ENOEXEC;
	const Elf64_Phdr *ph = (const void *)(data + eh->e_phoff);
	const Elf64_Dyn *dyn = NULL;
	size_t ndyn = 0;
	for (size_t i = 0; i < eh->e_phnum; i++) {
		if (!in(len, ph[i].p_offset, ph[i].p_filesz))
			return -ENOEXEC;
		if (ph[i].p_type == PT_INTERP && ph[i].p_filesz > 1 && !*interp)
			*interp = kf_xasprintf("%.*s", (int)strnlen(data + ph[i].p_offset, ph[i].p_filesz),
					       data + ph[i].p_offset);
		if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const void *)(data + ph[i].p_offset);
			ndyn = ph[i].p_filesz / sizeof(*dyn);
		}
	}
	uint64_t strtab = 0, strsz = 0;
	for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		if (dyn[i].d_tag == DT_STRTAB && !vaddr_off(ph, eh->e_phnum, dyn[i].d_un.d_ptr, &strtab))
			goto bad;
		if (dyn[i].d_tag == DT_STRSZ)
			strsz = dyn[i].d_un.d_val;
	}
	if (ndyn && (!strsz || !in(len, strtab, strsz)))
		goto bad;
	for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		if (dyn[i].d_tag != DT_NEEDED)
			continue;
		uint64_t o = dyn[i].d_un.d_val;
		if (o >= strsz || !memchr(data + strtab + o, 0, strsz - o))
			goto bad;
		*names = kf_xrealloc(*names, (*n + 1) * sizeof(**names));
		(*names)[(*n)++] = kf_xstrdup(data + strtab + o);
	}
	return 0;
bad:
	free(*interp);
	*interp = NULL;
	return -ENOEXEC;
}

/* ---- newc cpio ---- */

struct img {
	struct kf_buf *out;
	unsigned ino;
};

static void pad4(struct kf_buf *b)
{
	static const char z[4];
	if (b->len % 4)
		kf_buf_add(b, z, 4 - b->len % 4);
}

static void entry(struct img *g, const char *name, unsigned mode, unsigned rmaj, unsigned rmin,
		  const char *data, size_t len)
{
	kf_buf_printf(g->out, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", ++g->ino, mode, 0u, 0u,
		      S_ISDIR(mode) ? 2u : 1u, 0u, len, 0u, 0u, rmaj, rmin, strlen(name) + 1, 0u);
	kf_buf_add(g->out, name, strlen(name) + 1);
	pad4(g->out);
	if (len)
		kf_buf_add(g->out, data, len);
	pad4(g->out);
}

/* One file of the build machine into the image as name (mode 0755). */
static int add_file(struct img *g, const char *path, const char *name, char **data, size_t *len,
		    struct kf_err *e)
{
	int r = kf_read_file(path, FILE_MAX, data, len);
	if (r < 0)
		return kf_errc(e, r, NULL, "discovery image: cannot read %s: %s", path, strerror(-r));
	entry(g, name, S_IFREG | 0755, 0, 0, *data, *len);
	return 0;
}

/* ---- inputs ---- */

static char *first_of(char **c, size_t n, int amode)
{
	char *found = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!found && c[i] && access(c[i], amode) == 0)
			found = c[i];
		else
			free(c[i]);
	}
	return found;
}

static char *env_or(const char *var, const char *fmt, const char *arg)
{
	const char *v = getenv(var);
	return v && *v ? kf_xstrdup(v) : arg ? kf_xasprintf(fmt, arg) : NULL;
}

static char *find_lib(const char *name)
{
	char *c[KF_ARRAY_SIZE(lib_dirs)];
	for (size_t i = 0; i < KF_ARRAY_SIZE(lib_dirs); i++)
		c[i] = kf_xasprintf("%s/%s", lib_dirs[i], name);
	return first_of(c, KF_ARRAY_SIZE(c), R_OK);
}

/* The libraries of the agent and of libcurl, each once, by file name. */
struct libs {
	char *name[LIBS_MAX];
	size_t n;
};

static bool libs_has(const struct libs *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->name[i], name))
			return true;
	return false;
}

static int libs_add(struct libs *l, const char *name, struct kf_err *e)
{
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	if (libs_has(l, base))
		return 0;
	if (l->n == LIBS_MAX)
		return kf_errc(e, -E2BIG, NULL, "discovery image: more than %d libraries", LIBS_MAX);
	l->name[l->n++] = kf_xstrdup(base);
	return 0;
}

/* Adds file (already read) and then, breadth first, what it needs. */
static int libs_needed(struct libs *l, const char *what, const char *data, size_t len, struct kf_err *e)
{
	char **v = NULL, *interp = NULL;
	size_t n = 0;
	int r = kf_elf_needed(data, len, &v, &n, &interp);
	if (r < 0)
		r = kf_errc(e, r, NULL, "discovery image: %s is not a 64-bit ELF file", what);
	if (r == 0 && interp)
		r = libs_add(l, interp, e);
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			r = libs_add(l, v[i], e);
		free(v[i]);
	}
	free(v);
	free(interp);
	return r;
}

static int add_libs(struct img *g, struct libs *l, struct kf_err *e)
{
	int r = libs_add(l, "libcurl.so.4", e); /* the agent opens it at first use */
	for (size_t i = 0; r == 0 && i < l->n; i++) {
		char *path = find_lib(l->name[i]), *name = NULL, *data = NULL;
		size_t len = 0;
		if (!path) {
			r = kf_errc(e, -ENOENT, NULL, "discovery image: library %s not found in %s and the other "
						       "library directories (libcurl4 installed?)",
				    l->name[i], lib_dirs[0]);
			break;
		}
		name = kf_xasprintf("kickfleet/lib/%s", l->name[i]);
		r = add_file(g, path, name, &data, &len, e);
		if (r == 0)
			r = libs_needed(l, path, data, len, e);
		free(path);
		free(name);
		free(data);
	}
	return r;
}

static int add_agent(struct img *g, struct libs *l, struct kf_err *e)
{
	char *self = kf_self_dir();
	char *c[] = { env_or("KICKFLEET_AGENT", "%s/kickfleet-agent", self) };
	free(self);
	char *path = first_of(c, 1, X_OK), *data = NULL;
	size_t len = 0;
	int r = path ? add_file(g, path, "kickfleet/bin/kickfleet-agent", &data, &len, e)
		     : kf_errc(e, -ENOENT, NULL, "discovery image: no kickfleet-agent beside this program "
						  "($KICKFLEET_AGENT names another)");
	if (r == 0)
		r = libs_needed(l, path, data, len, e);
	free(path);
	free(data);
	return r;
}

static int add_busybox(struct img *g, struct kf_err *e)
{
	const char *env = getenv("KICKFLEET_BUSYBOX");
	char *c[] = { env && *env ? kf_xstrdup(env) : NULL, kf_xstrdup("/bin/busybox"),
		      kf_xstrdup("/usr/bin/busybox") };
	char *path = first_of(c, KF_ARRAY_SIZE(c), X_OK), *data = NULL, **v = NULL, *interp = NULL;
	size_t len = 0, n = 0;
	int r = path ? add_file(g, path, "kickfleet/bin/busybox", &data, &len, e)
		     : kf_errc(e, -ENOENT, NULL, "discovery image: no busybox (install busybox-static)");
	if (r == 0 && (kf_elf_needed(data, len, &v, &n, &interp) < 0 || interp || n))
		r = kf_errc(e, -ENOEXEC, NULL, "discovery image: %s is not statically linked (install "
					       "busybox-static)", path);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	free(interp);
	free(path);
	free(data);
	return r;
}

static int add_scripts(struct img *g, struct kf_err *e)
{
	const char *env = getenv("KICKFLEET_DATADIR");
	char *self = kf_self_dir();
	char *c[] = { env && *env ? kf_xasprintf("%s/discovery/init", env) : NULL,
		      self ? kf_xasprintf("%s/../pxe/discovery/init", self) : NULL,
		      kf_xstrdup(KF_DATADIR "/discovery/init") };
	free(self);
	char *init = first_of(c, KF_ARRAY_SIZE(c), R_OK), *data = NULL, *hook = NULL;
	size_t len = 0;
	int r = init ? add_file(g, init, "init", &data, &len, e)
		     : kf_errc(e, -ENOENT, NULL, "discovery image: no discovery/init in " KF_DATADIR
						  " ($KICKFLEET_DATADIR names another data directory)");
	free(data);
	data = NULL;
	if (r == 0) {
		hook = kf_xasprintf("%.*s/udhcpc", (int)(strrchr(init, '/') - init), init);
		r = add_file(g, hook, "kickfleet/udhcpc", &data, &len, e);
	}
	free(hook);
	free(data);
	free(init);
	return r;
}

int kf_discovery_image(struct kf_buf *out, struct kf_err *e)
{
	static const char *const dirs[] = { "dev", "proc", "sys", "tmp", "run", "kickfleet", "kickfleet/bin",
					    "kickfleet/lib" };
	struct img g = { out, 0 };
	struct libs l = { .n = 0 };
	for (size_t i = 0; i < KF_ARRAY_SIZE(dirs); i++)
		entry(&g, dirs[i], S_IFDIR | 0755, 0, 0, NULL, 0);
	entry(&g, "dev/console", S_IFCHR | 0600, 5, 1, NULL, 0);
	int r = add_scripts(&g, e);
	if (r == 0)
		r = add_busybox(&g, e);
	if (r == 0)
		r = add_agent(&g, &l, e);
	if (r == 0)
		r = add_libs(&g, &l, e);
	if (r == 0)
		entry(&g, "TRAILER!!!", 0, 0, 0, NULL, 0);
	for (size_t i = 0; i < l.n; i++)
		free(l.name[i]);
	return r;
}
