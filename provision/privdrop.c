/* Privilege separation of serve and up: whom to run as, the trees made
 * that user's, and the switch itself, proven (provision/privdrop.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "provision/privdrop.h"
#include "util.h"

static uid_t runas = (uid_t)-1;

uid_t kf_priv_uid(void)
{
	return runas == (uid_t)-1 ? geteuid() : runas;
}

/* The passwd entry of name into p (uid, gid, both names); -ENOENT when
 * there is no such user. */
static int lookup(const char *name, struct kf_priv *p, struct kf_err *e)
{
	char buf[4096];
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	int r = getpwnam_r(name, &pw, buf, sizeof(buf), &pwp);
	if (r || !pwp)
		return r ? kf_errc(e, -r, NULL, "user \"%s\": %s", name, strerror(r)) : -ENOENT;
	p->uid = pw.pw_uid;
	p->gid = pw.pw_gid;
	snprintf(p->user, sizeof(p->user), "%s", pw.pw_name);
	r = getgrgid_r(p->gid, &gr, buf, sizeof(buf), &grp);
	if (r || !grp)
		return kf_errc(e, r ? -r : -ENOENT, NULL, "user \"%s\": its group %u has no name", name,
			       (unsigned)p->gid);
	snprintf(p->group, sizeof(p->group), "%s", gr.gr_name);
	return 0;
}

int kf_priv_choose(const char *user, const char *cfg, struct kf_priv *p, struct kf_err *e)
{
	*p = (struct kf_priv){ .uid = geteuid(), .gid = getegid() };
	snprintf(p->user, sizeof(p->user), "uid %u", (unsigned)p->uid);
	const char *name = user ? user : cfg;
	const char *from = user ? "--user" : "provisioner.user";
	bool root = geteuid() == 0;
	int r = 0;
	if (!name && root) {
		struct kf_priv d = { 0 };
		r = lookup(KF_PRIV_DEFAULT_USER, &d, e);
		if (r == 0)
			*p = d, p->drop = d.uid != 0;
		else if (r == -ENOENT)
			kf_log(KF_LOG_WARN, "running as root: there is no user \"%s\" to switch to "
			       "(create it, or name one with --user or provisioner.user)", KF_PRIV_DEFAULT_USER);
		if (r == -ENOENT)
			r = 0;
	} else if (name) {
		struct kf_priv d = { 0 };
		r = lookup(name, &d, e);
		if (r == -ENOENT)
			r = kf_errc(e, -ENOENT, NULL, "%s \"%s\": no such user", from, name);
		else if (r == 0 && !root && d.uid != geteuid())
			r = kf_errc(e, -EPERM, NULL, "%s \"%s\": cannot switch to it, not started as root",
				    from, name);
		else if (r == 0)
			*p = d, p->drop = root && d.uid != 0;
	}
	if (r < 0)
		return r;
	mode_t old = umask(027); /* a stricter one (a unit's UMask=0077) stays */
	umask(old | (p->drop ? 027 : 022));
	runas = p->uid;
	return 0;
}

struct walk {
	const struct kf_priv *p;
	dev_t dev;
	unsigned owned, linked;
	struct kf_err *e;
};

/* Makes the entries of the open directory fd (path, for messages) the
 * user's, then fd itself; closes fd. */
static int own_dir(struct walk *w, int fd, const char *path, int depth)
{
	int r = 0;
	DIR *d = NULL;
	struct stat sb;
	if (fstat(fd, &sb) < 0 || depth > 64) {
		r = kf_errc(w->e, depth > 64 ? -ELOOP : -errno, NULL, "cannot own %s: %s", path,
			    depth > 64 ? "too deep" : strerror(errno));
		goto out;
	}
	if ((sb.st_uid != w->p->uid || sb.st_gid != w->p->gid) && fchown(fd, w->p->uid, w->p->gid) < 0) {
		r = kf_errc(w->e, -errno, NULL, "chown %s: %s", path, strerror(errno));
		goto out;
	}
	int dfd = dup(fd);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		r = kf_errc(w->e, -errno, NULL, "cannot list %s: %s", path, strerror(errno));
		goto out;
	}
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, "..") ||
		    fstatat(fd, n, &sb, AT_SYMLINK_NOFOLLOW) < 0 || sb.st_dev != w->dev)
			continue;
		char *sub = kf_xasprintf("%s/%s", path, n);
		if (S_ISDIR(sb.st_mode)) {
			int cfd = openat(fd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = cfd < 0 ? kf_errc(w->e, -errno, NULL, "cannot open %s: %s", sub, strerror(errno))
				    : own_dir(w, cfd, sub, depth + 1);
		} else if ((S_ISREG(sb.st_mode) || S_ISSOCK(sb.st_mode) || S_ISFIFO(sb.st_mode)) &&
			   (sb.st_uid != w->p->uid || sb.st_gid != w->p->gid)) {
			if (S_ISREG(sb.st_mode) && sb.st_nlink > 1) {
				w->linked++; /* a link planted to a file of root's stays root's */
			} else if (fchownat(fd, n, w->p->uid, w->p->gid, AT_SYMLINK_NOFOLLOW) < 0) {
				r = kf_errc(w->e, -errno, NULL, "chown %s: %s", sub, strerror(errno));
			} else {
				w->owned++;
			}
		}
		free(sub);
	}
out:
	if (d)
		closedir(d);
	close(fd);
	return r;
}

/* Whether dir lies under (or is) one of dirs[0..i). */
static bool covered(const char *const *dirs, size_t i, const char *dir)
{
	for (size_t j = 0; j < i; j++) {
		size_t n = strlen(dirs[j]);
		if (!strncmp(dirs[j], dir, n) && (dir[n] == 0 || dir[n] == '/'))
			return true;
	}
	return false;
}

int kf_priv_own(const struct kf_priv *p, const char *const *dirs, size_t n, struct kf_err *e)
{
	if (!p->drop)
		return 0;
	struct walk w = { .p = p, .e = e };
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (!dirs[i] || covered(dirs, i, dirs[i]))
			continue;
		int fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat sb;
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0 || fstat(fd, &sb) < 0) {
			r = kf_errc(e, -errno, NULL, "cannot open %s: %s", dirs[i], strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		w.dev = sb.st_dev;
		r = own_dir(&w, fd, dirs[i], 0);
	}
	if (r == 0 && (w.owned || w.linked))
		kf_log(KF_LOG_INFO, "made %u files %s's (%u with other hard links left as they are)",
		       w.owned, p->user, w.linked);
	return r;
}

void kf_priv_private_state(const char *state_dir)
{
	static const char *const names[] = { "state.db", "state.db-wal", "state.db-shm" };
	for (size_t i = 0; i < KF_ARRAY_SIZE(names); i++) {
		char *path = kf_xasprintf("%s/%s", state_dir, names[i]);
		struct stat sb;
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 077) &&
		    chmod(path, sb.st_mode & 0700) < 0)
			kf_log(KF_LOG_WARN, "chmod %s: %s", path, strerror(errno));
		free(path);
	}
}

/* dir's owner when it is not root's (0 otherwise). */
static bool user_dir(const char *dir, struct stat *sb)
{
	return stat(dir, sb) == 0 && S_ISDIR(sb->st_mode) && sb->st_uid != 0;
}

/* The root-owned directories ending dir (nul-terminated, changed and
 * restored) take the owner of the first one above them that is not root's. */
static void follow_dirs(char *dir)
{
	struct stat sb, up;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir || lstat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != 0)
		return;
	*slash = 0;
	follow_dirs(dir);
	bool user = user_dir(dir, &up);
	*slash = '/';
	if (user && lchown(dir, up.st_uid, up.st_gid) < 0)
		kf_log(KF_LOG_WARN, "chown %s: %s", dir, strerror(errno));
}

void kf_priv_follow_owner(int fd, const char *path)
{
	if (geteuid() != 0)
		return;
	char *p = kf_xstrdup(path);
	if (fd < 0) {
		follow_dirs(p);
	} else {
		char *slash = strrchr(p, '/');
		struct stat up;
		if (slash)
			*slash = 0;
		if (user_dir(slash ? p : ".", &up) && fchown(fd, up.st_uid, up.st_gid) < 0)
			kf_log(KF_LOG_WARN, "chown %s: %s", path, strerror(errno));
	}
	free(p);
}

/* After the switch: every id is the user's, there is no supplementary
 * group, root cannot come back, no capability is left. */
static int verify(const struct kf_priv *p, struct kf_err *e)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return kf_errc(e, -errno, NULL, "after switching to %s: %s", p->user, strerror(errno));
	if (p->drop && (ru != p->uid || eu != p->uid || su != p->uid || rg != p->gid || eg != p->gid ||
			sg != p->gid))
		return kf_errc(e, -EPERM, NULL, "after switching to %s: ids %u/%u/%u:%u/%u/%u", p->user,
			       (unsigned)ru, (unsigned)eu, (unsigned)su, (unsigned)rg, (unsigned)eg,
			       (unsigned)sg);
	if (p->drop && getgroups(0, NULL) != 0)
		return kf_errc(e, -EPERM, NULL, "after switching to %s: supplementary groups remain", p->user);
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		return kf_errc(e, -EPERM, NULL, "after switching to %s: root could be regained", p->user);
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2] = { 0 };
	if (syscall(SYS_capget, &h, c) < 0)
		return kf_errc(e, -errno, NULL, "capget: %s", strerror(errno));
	for (int i = 0; i < 2; i++)
		if (c[i].effective || c[i].permitted || c[i].inheritable)
			return kf_errc(e, -EPERM, NULL, "as %s: capabilities remain", p->user);
	return 0;
}

/* Empties every capability set (ambient too): what binding needed, as
 * CAP_NET_BIND_SERVICE from a unit's AmbientCapabilities, ends here. */
static int clear_caps(struct kf_err *e)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return kf_errc(e, -errno, NULL, "clearing ambient capabilities: %s", strerror(errno));
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2] = { 0 };
	if (syscall(SYS_capset, &h, c) < 0)
		return kf_errc(e, -errno, NULL, "capset: %s", strerror(errno));
	return 0;
}

int kf_priv_drop(const struct kf_priv *p, struct kf_err *e)
{
	if (!p->drop && geteuid() == 0)
		return 0; /* stays root, as chosen or warned about */
	/* glibc applies these to every thread of the process */
	if (p->drop && setgroups(0, NULL) < 0)
		return kf_errc(e, -errno, NULL, "setgroups: %s", strerror(errno));
	if (p->drop && setresgid(p->gid, p->gid, p->gid) < 0)
		return kf_errc(e, -errno, NULL, "setresgid %s: %s", p->group, strerror(errno));
	if (p->drop && setresuid(p->uid, p->uid, p->uid) < 0)
		return kf_errc(e, -errno, NULL, "setresuid %s: %s", p->user, strerror(errno));
	int r = clear_caps(e);
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = kf_errc(e, -errno, NULL, "no_new_privs: %s", strerror(errno));
	if (r == 0)
		r = verify(p, e);
	if (r == 0 && p->drop)
		kf_log(KF_LOG_INFO, "running as %s:%s (uid %u, gid %u), no capabilities", p->user, p->group,
		       (unsigned)p->uid, (unsigned)p->gid);
	return r;
}
