/* The agent's package repositories under the HTTP root: render's staging
 * step puts what `make packages` built (docs/packages.md) in place as
 *   HTTP_ROOT/repo/rpm/   the RPM and its repodata (createrepo_c)
 *   HTTP_ROOT/repo/deb/   the .deb, Packages, Packages.gz, Release
 * hard-linked or copied file by file, each index last (a client that
 * reads the new repomd.xml or Release finds every file it names), then
 * the files the new build no longer has are removed. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pxe/boot.h"
#include "provision/render.h"
#include "util.h"

static const char *const repo_dirs[] = { "rpm", "rpm/repodata", "deb" };
static const char *const repo_index[] = { "rpm/repodata/repomd.xml", "deb/Release" };

static bool is_pkgdir(const char *dir)
{
	for (size_t i = 0; i < KF_ARRAY_SIZE(repo_index); i++) {
		char *p = kf_xasprintf("%s/%s", dir, repo_index[i]);
		int ok = access(p, R_OK);
		free(p);
		if (ok < 0)
			return false;
	}
	return true;
}

/* packages/ beside the running program: build/packages in the tree */
static char *beside_self(void)
{
	char *self = kf_self_dir();
	char *p = self ? kf_xasprintf("%s/packages", self) : NULL;
	free(self);
	return p;
}

int kf_render_packages_find(char **out, struct kf_err *e)
{
	*out = NULL;
	const char *env = getenv("KICKFLEET_PACKAGES");
	if (env && *env) {
		if (is_pkgdir(env)) {
			*out = kf_xstrdup(env);
			return 0;
		}
		return kf_errc(e, -ENOENT, NULL,
			       "render: the agent's packages are not in $KICKFLEET_PACKAGES (%s): it has no "
			       "rpm/repodata/repomd.xml or deb/Release (build them with `make packages`)",
			       env);
	}
	char *self = beside_self();
	char *dirs[] = { self, kf_xstrdup(KF_DATADIR "/packages") };
	for (size_t i = 0; i < KF_ARRAY_SIZE(dirs); i++)
		if (!*out && dirs[i] && is_pkgdir(dirs[i]))
			*out = kf_xstrdup(dirs[i]);
	int r = *out ? 0
		     : kf_errc(e, -ENOENT, NULL,
			       "render: the agent's packages are not built: none in %s or %s (build them with "
			       "`make packages`; `render --no-stage` renders without them)",
			       self ? self : "(the program's directory)/packages", dirs[1]);
	free(self);
	free(dirs[1]);
	return r;
}

static bool is_index(const char *rel)
{
	for (size_t i = 0; i < KF_ARRAY_SIZE(repo_index); i++)
		if (!strcmp(rel, repo_index[i]))
			return true;
	return false;
}

/* Stages the regular files of SRC/rel into DST/rel: the indexes only
 * (index true) or every other file. */
static int place_dir(const char *src, const char *dst, const char *rel, bool index, size_t *placed,
		     struct kf_err *e)
{
	char *sd = kf_xasprintf("%s/%s", src, rel);
	DIR *d = opendir(sd);
	int r = d ? 0 : kf_errc(e, -errno, NULL, "packages: cannot read %s: %s", sd, strerror(errno));
	struct dirent *de;
	while (r == 0 && d && (de = readdir(d))) {
		char *f = kf_xasprintf("%s/%s", rel, de->d_name);
		char *from = kf_xasprintf("%s/%s", src, f), *to = kf_xasprintf("%s/%s", dst, f);
		struct stat st;
		if (de->d_name[0] != '.' && stat(from, &st) == 0 && S_ISREG(st.st_mode) &&
		    is_index(f) == index) {
			r = kf_stage_link(from, to, e);
			if (r > 0)
				++*placed;
			r = r < 0 ? r : 0;
		}
		free(f);
		free(from);
		free(to);
	}
	if (d)
		closedir(d);
	free(sd);
	return r;
}

/* Removes the files of DST/rel that SRC/rel does not have. */
static void prune_dir(const char *src, const char *dst, const char *rel)
{
	char *dd = kf_xasprintf("%s/%s", dst, rel);
	DIR *d = opendir(dd);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char *from = kf_xasprintf("%s/%s/%s", src, rel, de->d_name);
		char *to = kf_xasprintf("%s/%s", dd, de->d_name);
		struct stat st;
		if (de->d_name[0] != '.' && lstat(to, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(from, F_OK) < 0)
			unlink(to);
		free(from);
		free(to);
	}
	if (d)
		closedir(d);
	free(dd);
}

int kf_render_packages_place(const char *pkgdir, const char *http_root, bool dry_run,
			     size_t *placed, struct kf_err *e)
{
	*placed = 0;
	if (dry_run)
		return 0;
	char *dst = kf_xasprintf("%s/repo", http_root);
	int r = 0;
	for (int pass = 0; pass < 2 && r == 0; pass++)
		for (size_t i = 0; i < KF_ARRAY_SIZE(repo_dirs) && r == 0; i++)
			r = place_dir(pkgdir, dst, repo_dirs[i], pass == 1, placed, e);
	for (size_t i = 0; i < KF_ARRAY_SIZE(repo_dirs) && r == 0; i++)
		prune_dir(pkgdir, dst, repo_dirs[i]);
	free(dst);
	return r;
}
