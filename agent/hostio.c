/* Host file access through the sysroot (agent/hostio.h). */
#include "agent/hostio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "types.h"
#include "util.h"

extern char **environ;

int kf_host_read(const char *path, char **out)
{
	char *full = kf_path("%s", path);
	*out = NULL;
	int r = kf_read_file(full, 1u << 20, out, NULL);
	free(full);
	if (r < 0)
		return r;
	kf_rstrip(*out);
	return 0;
}

int kf_host_read_ll(const char *path, long long *v)
{
	char *s = NULL;
	int r = kf_host_read(path, &s);
	if (r < 0)
		return r;
	r = kf_int_parse(s, v);
	free(s);
	return r;
}

bool kf_host_exists(const char *path)
{
	char *full = kf_path("%s", path);
	bool ok = access(full, F_OK) == 0;
	free(full);
	return ok;
}

int kf_sys_write(const char *path, const char *val, char **back)
{
	char *full = kf_path("%s", path);
	int r = 0;
	if (back)
		*back = NULL;
	int fd = open(full, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	size_t len = strlen(val);
	ssize_t n = write(fd, val, len);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (r < 0)
		goto out;
	if (back)
		r = kf_host_read(path, back);
out:
	free(full);
	return r;
}

int kf_etc_write(const char *path, const char *data)
{
	char *full = kf_path("%s", path);
	char *dir = kf_xstrdup(full);
	char *slash = strrchr(dir, '/');
	int r = 0;
	if (slash && slash != dir) {
		*slash = 0;
		r = kf_mkdir_p(dir, 0755);
	}
	if (!r)
		r = kf_write_ordered(full, data, strlen(data), 0644);
	free(dir);
	free(full);
	return r;
}

/* the comms of /proc while a snapshot is on (kf_proc_snapshot) */
static struct {
	bool on, have;
	char **v;
	size_t n;
} procs;

/* Calls fn(comm, arg) for each process of the (sys)root's /proc until it
 * returns true; true then. */
static bool proc_scan(bool (*fn)(const char *comm, void *arg), void *arg)
{
	char *procdir = kf_path("/proc");
	DIR *d = opendir(procdir);
	bool found = false;
	if (!d)
		goto out;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char *rel = kf_xasprintf("/proc/%s/comm", de->d_name);
		char *s = NULL;
		if (kf_host_read(rel, &s) == 0)
			found = fn(s, arg);
		free(s);
		free(rel);
	}
	closedir(d);
out:
	free(procdir);
	return found;
}

static bool same_comm(const char *comm, void *arg)
{
	return !strcmp(comm, arg);
}

static bool keep_comm(const char *comm, void *arg)
{
	(void)arg;
	procs.v = kf_xrealloc(procs.v, (procs.n + 1) * sizeof(*procs.v));
	procs.v[procs.n++] = kf_xstrdup(comm);
	return false;
}

void kf_proc_snapshot(bool on)
{
	for (size_t i = 0; i < procs.n; i++)
		free(procs.v[i]);
	free(procs.v);
	procs.v = NULL;
	procs.n = 0;
	procs.have = false;
	procs.on = on;
}

bool kf_proc_running(const char *comm)
{
	if (!procs.on)
		return proc_scan(same_comm, (void *)comm);
	if (!procs.have)
		proc_scan(keep_comm, NULL);
	procs.have = true;
	for (size_t i = 0; i < procs.n; i++)
		if (!strcmp(procs.v[i], comm))
			return true;
	return false;
}

int kf_host_run(const char *const argv[])
{
	pid_t pid;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	/* the command's stdout would mix with the plan: send it to stderr */
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	int r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r)
		return -r;
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

const char *kf_norm_bracket(const char *s, char *buf, size_t len)
{
	const char *open = strchr(s, '[');
	const char *start = s, *end;
	if (open) {
		start = open + 1;
		end = strchr(start, ']');
		if (!end)
			return NULL;
	} else {
		while (*start == ' ')
			start++;
		end = start + strcspn(start, " \t\n");
	}
	size_t n = (size_t)(end - start);
	if (!n || n >= len)
		return NULL;
	memcpy(buf, start, n);
	buf[n] = 0;
	return buf;
}

int kf_norm_bool(const char *s)
{
	if (!strcmp(s, "Y") || !strcmp(s, "y") || !strcmp(s, "1"))
		return 1;
	if (!strcmp(s, "N") || !strcmp(s, "n") || !strcmp(s, "0"))
		return 0;
	return -1;
}

/* --- parsers of host files --- */

/* Copies the next line of *cur that fits in buf (longer ones are skipped)
 * and advances *cur past it; false at the end of the text. */
static bool next_line(const char **cur, char *buf, size_t cap)
{
	while (*cur && **cur) {
		const char *line = *cur, *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		*cur = nl ? nl + 1 : NULL;
		if (len < cap) {
			memcpy(buf, line, len);
			buf[len] = 0;
			return true;
		}
	}
	return false;
}

int kf_modprobe_option(const char *text, const char *module, const char *opt)
{
	int v = -1;
	size_t optlen = strlen(opt);
	char buf[512];
	for (const char *cur = text; next_line(&cur, buf, sizeof(buf));) {
		char *save = NULL, *w = strtok_r(buf, " \t", &save);
		if (!w || strcmp(w, "options"))
			continue;
		w = strtok_r(NULL, " \t", &save);
		if (!w || strcmp(w, module))
			continue;
		while ((w = strtok_r(NULL, " \t", &save))) {
			if (!strncmp(w, opt, optlen) && w[optlen] == '=') {
				int b = kf_norm_bool(w + optlen + 1);
				if (b >= 0)
					v = b;
			}
		}
	}
	return v;
}

size_t kf_interrupts_for(const char *text, const char *dev, int *irqs, size_t max)
{
	size_t n = 0, dl = strlen(dev);
	char buf[1024];
	for (const char *cur = text; n < max && next_line(&cur, buf, sizeof(buf));) {
		char *end, *p = buf;
		while (*p == ' ')
			p++;
		long irq = strtol(p, &end, 10);
		if (end == p || *end != ':')
			continue;
		char *save = NULL;
		bool hit = false;
		for (char *w = strtok_r(end + 1, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save))
			if (!strncmp(w, dev, dl) && (w[dl] == 0 || w[dl] == '-' || w[dl] == ':'))
				hit = true;
		if (hit)
			irqs[n++] = (int)irq;
	}
	return n;
}

bool kf_irqb_args_powersave(const char *args)
{
	return args && strstr(args, "--powerthresh") != NULL;
}

char *kf_irqb_args_set(const char *args, bool powersave)
{
	struct kf_buf b = KF_BUF_INIT;
	char *copy = kf_xstrdup(args ? args : ""), *save = NULL;
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (!strncmp(w, "--powerthresh", 13))
			continue;
		kf_buf_printf(&b, "%s%s", b.len ? " " : "", w);
	}
	if (powersave)
		kf_buf_printf(&b, "%s--powerthresh=1", b.len ? " " : "");
	free(copy);
	return kf_buf_detach(&b);
}

static bool has_word(const char *args, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = args ? strstr(args, word) : NULL; p; p = strstr(p + 1, word))
		if ((p == args || p[-1] == ' ' || p[-1] == '\t') && (!p[n] || p[n] == ' ' || p[n] == '\t'))
			return true;
	return false;
}

char *kf_irqb_args_banirq(const char *args, const int *irqs, size_t n)
{
	struct kf_buf b = KF_BUF_INIT;
	bool added = false;
	kf_buf_puts(&b, args ? args : "");
	for (size_t i = 0; i < n; i++) {
		char w[32];
		snprintf(w, sizeof(w), "--banirq=%d", irqs[i]);
		if (has_word(b.s, w))
			continue;
		kf_buf_printf(&b, "%s%s", b.len ? " " : "", w);
		added = true;
	}
	char *out = kf_buf_detach(&b);
	if (!added) {
		free(out);
		return NULL;
	}
	return out;
}

/* --- changes that write one value --- */

#include "agent/resource.h"

struct syswrite {
	char *path;
	char *value;
};

static void syswrite_free(void *p)
{
	struct syswrite *w = p;
	if (!w)
		return;
	free(w->path);
	free(w->value);
	free(w);
}

void kf_change_syswrite(struct kf_change *ch, const char *path, const char *value)
{
	struct syswrite *w = kf_xcalloc(1, sizeof(*w));
	w->path = kf_xstrdup(path);
	w->value = kf_xstrdup(value);
	ch->data = w;
	ch->free_data = syswrite_free;
}

int kf_apply_syswrite(struct kf_change *ch, const char *(*norm)(const char *s, char *buf, size_t len))
{
	struct syswrite *w = ch->data;
	char *back = NULL;
	int r = kf_sys_write(w->path, w->value, &back);
	if (r < 0) {
		ch->reason = kf_xasprintf("%s: writing \"%s\": %s", w->path, w->value, strerror(-r));
		return r;
	}
	char b1[256], b2[256];
	const char *want = norm ? norm(w->value, b1, sizeof(b1)) : w->value;
	const char *got = norm ? norm(back, b2, sizeof(b2)) : back;
	if (!want || !got || strcmp(want, got)) {
		ch->reason = kf_xasprintf("%s: wrote \"%s\", read back \"%s\"", w->path, w->value, back);
		r = -EIO;
	}
	free(back);
	return r;
}
