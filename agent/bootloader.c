/* The next boot's kernel command line: BLS entries through grubby, or
 * GRUB's defaults and its config generator (agent/bootcmd.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/bootcmd.h"
#include "agent/facts_int.h"
#include "agent/hostio.h"
#include "agent/resource.h"
#include "util.h"

#define BLS_DIR "/boot/loader/entries"
#define GRUBENV "/boot/grub2/grubenv"

static const char *const grubby_paths[] = { "/usr/sbin/grubby", "/sbin/grubby", "/usr/bin/grubby", NULL };

static char bls_file[512];

static const char *grubby(void)
{
	for (size_t i = 0; grubby_paths[i]; i++)
		if (kf_host_exists(grubby_paths[i]))
			return grubby_paths[i];
	return NULL;
}

static bool is_conf(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && !strcmp(name + n - 5, ".conf");
}

/* The default BLS entry's host path into bls_file: grubenv's saved_entry
 * when that entry exists, else the newest (last in version order, as GRUB
 * sorts them); false when grubby or the entries are missing. */
static bool bls_default(void)
{
	char **names = NULL, *env = NULL, *saved = NULL;
	size_t n = grubby() ? fx_list(&names, BLS_DIR) : 0;
	bool found = false;
	if (kf_host_read(GRUBENV, &env) == 0)
		saved = kf_shvar_get(env, "saved_entry");
	for (size_t i = 0; i < n && saved; i++)
		if (is_conf(names[i]) && !strncmp(names[i], saved, strlen(saved)) &&
		    !strcmp(names[i] + strlen(saved), ".conf")) {
			snprintf(bls_file, sizeof(bls_file), BLS_DIR "/%s", names[i]);
			found = true;
		}
	for (size_t i = n; i-- > 0 && !found;)
		if (is_conf(names[i])) {
			snprintf(bls_file, sizeof(bls_file), BLS_DIR "/%s", names[i]);
			found = true;
		}
	fx_list_free(names, n);
	free(env);
	free(saved);
	return found;
}

const char *kf_bootcmd_where(void)
{
	return bls_default() ? "BLS entries" : "GRUB_CMDLINE_LINUX";
}

const char *kf_bootcmd_file(void)
{
	return bls_default() ? bls_file : KF_GRUB_DEFAULTS;
}

const char *kf_bootcmd_pending(void)
{
	return bls_default() && !kf_sysroot_is_host() ? "grubby not run under --root" : NULL;
}

/* The options line of a BLS entry ("" when it has none); malloc'd. */
static char *bls_options(const char *text)
{
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > 7 && !strncmp(line, "options", 7) && (line[7] == ' ' || line[7] == '\t')) {
			char *v = kf_xstrdup(line + 8);
			v[len - 8] = 0;
			kf_rstrip(v);
			char *out = kf_xstrdup(v + strspn(v, " \t"));
			free(v);
			return out;
		}
		line = nl ? nl + 1 : NULL;
	}
	return kf_xstrdup("");
}

int kf_bootcmd_read(char **out)
{
	char *text = NULL;
	*out = NULL;
	bool bls = bls_default();
	int r = kf_host_read(bls ? bls_file : KF_GRUB_DEFAULTS, &text);
	if (r < 0)
		return r;
	*out = bls ? bls_options(text) : kf_shvar_get(text, "GRUB_CMDLINE_LINUX");
	if (!*out)
		*out = kf_xstrdup("");
	free(text);
	return 0;
}

char *kf_cmdline_running(void)
{
	char *s = NULL;
	if (kf_host_read("/proc/cmdline", &s) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* Words of a that are not in b, space separated ("" none); malloc'd. */
static char *words_minus(const char *a, const char *b)
{
	char *copy = kf_xstrdup(a), *save = NULL;
	struct kf_buf out = KF_BUF_INIT;
	for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		bool in = false;
		char *bc = kf_xstrdup(b), *s2 = NULL;
		for (char *x = strtok_r(bc, " \t\n", &s2); x && !in; x = strtok_r(NULL, " \t\n", &s2))
			in = !strcmp(w, x);
		free(bc);
		if (!in)
			kf_buf_printf(&out, "%s%s", out.len ? " " : "", w);
	}
	free(copy);
	return kf_buf_detach(&out);
}

/* grubby --update-kernel=ALL with the words added and removed. */
static int bls_write(const char *cmdline, char **err)
{
	char *cur = NULL;
	int r = kf_bootcmd_read(&cur);
	if (r < 0) {
		*err = kf_xasprintf("%s: %s", bls_file, strerror(-r));
		return r;
	}
	char *add = words_minus(cmdline, cur), *rem = words_minus(cur, cmdline);
	char *a = kf_xasprintf("--args=%s", add), *d = kf_xasprintf("--remove-args=%s", rem);
	const char *argv[5] = { grubby(), "--update-kernel=ALL", NULL, NULL, NULL };
	int k = 2;
	if (*add)
		argv[k++] = a;
	if (*rem)
		argv[k++] = d;
	int s = k > 2 ? kf_host_run(argv) : 0;
	if (s != 0) {
		*err = kf_xasprintf("grubby --update-kernel=ALL failed (%s)", s < 0 ? strerror(-s) : "non-zero exit");
		r = -EIO;
	}
	free(a);
	free(d);
	free(add);
	free(rem);
	free(cur);
	return r;
}

/* The generator that turns /etc/default/grub into grub.cfg. */
static int grub_regen(char **note, char **err)
{
	const char *ug[] = { "update-grub", NULL };
	const char *mk2[] = { "grub2-mkconfig", "-o", "/boot/grub2/grub.cfg", NULL };
	const char *mk[] = { "grub-mkconfig", "-o", "/boot/grub/grub.cfg", NULL };
	const char *const *tries[] = { ug, mk2, mk };
	int s = -ENOENT;
	for (size_t i = 0; i < 3 && s == -ENOENT; i++)
		s = kf_host_run(tries[i]);
	if (s == -ENOENT) {
		*note = kf_xstrdup("none of update-grub, grub2-mkconfig, grub-mkconfig found: regenerate the boot loader's config");
		return 0;
	}
	if (s != 0) {
		*err = kf_xasprintf("%s written, but regenerating the boot loader's config failed (%d)",
				    KF_GRUB_DEFAULTS, s);
		return -EIO;
	}
	return 0;
}

int kf_bootcmd_write(const char *cmdline, char **note, char **err)
{
	*note = *err = NULL;
	if (bls_default()) {
		if (!kf_sysroot_is_host()) {
			*note = kf_xstrdup("grubby not run under --root");
			return 0;
		}
		return bls_write(cmdline, err);
	}
	char *text = NULL, *path = kf_path(KF_GRUB_DEFAULTS);
	int r = kf_read_file(path, 1u << 20, &text, NULL);
	free(path);
	if (r < 0) {
		*err = kf_xasprintf("%s: %s", KF_GRUB_DEFAULTS, strerror(-r));
		return r;
	}
	char *next = kf_shvar_set(text, "GRUB_CMDLINE_LINUX", cmdline);
	r = kf_etc_write(KF_GRUB_DEFAULTS, next);
	free(next);
	free(text);
	if (r < 0) {
		*err = kf_xasprintf("%s: %s", KF_GRUB_DEFAULTS, strerror(-r));
		return r;
	}
	if (!kf_sysroot_is_host()) {
		*note = kf_xstrdup("update-grub not run under --root");
		return 0;
	}
	return grub_regen(note, err);
}

void kf_bootcmd_pend(struct kf_change *ch)
{
	const char *why = kf_bootcmd_pending();
	if (why) {
		ch->flags |= KF_CH_PENDING;
		free(ch->reason);
		ch->reason = kf_xstrdup(why);
	}
}

void kf_bootcmd_reboot_due(struct kf_plan *plan, const char *res, const char *what, const char *want,
			   const char *running)
{
	if (!running || !strcmp(want, running))
		return;
	struct kf_change *ch = kf_plan_add(plan, res, *running ? running : NULL, want, "%s (running kernel)", what);
	ch->flags |= KF_CH_PENDING | KF_CH_REBOOT;
	ch->reason = kf_xstrdup("reboot required: the next boot's command line has it");
}

int kf_bootcmd_edit(struct kf_change *ch, char *(*edit)(const char *cur, const void *arg), const void *arg)
{
	char *cur = NULL, *note = NULL, *err = NULL;
	int r = kf_bootcmd_read(&cur);
	if (r < 0) {
		ch->reason = kf_xasprintf("%s: %s", kf_bootcmd_file(), strerror(-r));
		return r;
	}
	char *next = edit(cur, arg);
	r = kf_bootcmd_write(next, &note, &err);
	free(next);
	free(cur);
	free(ch->reason);
	ch->reason = r < 0 ? err : note;
	if (r < 0)
		free(note);
	else
		ch->flags |= KF_CH_REBOOT;
	return r;
}
