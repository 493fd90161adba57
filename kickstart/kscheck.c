/* Kickstart syntax checker; see kscheck.h. */
#include "kickstart/kscheck.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Commands of current Anaconda kickstarts (pykickstart, RHEL 8/9 and
 * Fedora), sorted. */
static const char *const commands[] = {
	"auth", "authconfig", "authselect", "autopart", "autostep", "bootloader", "btrfs", "cdrom",
	"clearpart", "cmdline", "device", "deviceprobe", "dmraid", "driverdisk", "eula", "fcoe",
	"firewall", "firstboot", "graphical", "group", "halt", "harddrive", "hmc", "ignoredisk",
	"install", "interactive", "iscsi", "iscsiname", "keyboard", "lang", "liveimg", "logging",
	"logvol", "mediacheck", "method", "module", "monitor", "mount", "multipath", "network", "nfs",
	"nvdimm", "ostreecontainer", "ostreesetup", "part", "partition", "poweroff", "raid", "realm",
	"reboot", "repo", "reqpart", "rescue", "rhsm", "rootpw", "selinux", "services", "shutdown",
	"skipx", "snapshot", "sshkey", "sshpw", "text", "timesource", "timezone", "updates", "upgrade",
	"url", "user", "vnc", "volgroup", "xconfig", "zerombr", "zfcp", "zipl", NULL,
};

static const char *const sections[] = {
	"%pre", "%pre-install", "%post", "%packages", "%addon", "%anaconda", "%onerror", "%traceback",
	"%certificate", NULL,
};

/* Directives allowed outside sections. */
static const char *const directives[] = { "%include", "%ksappend", NULL };

static bool in_list(const char *const *list, const char *w, size_t n)
{
	for (size_t i = 0; list[i]; i++)
		if (strlen(list[i]) == n && !memcmp(list[i], w, n))
			return true;
	return false;
}

static const char *suggest(const char *const *list, const char *w, size_t n)
{
	char word[64];
	if (n >= sizeof(word))
		return NULL;
	memcpy(word, w, n);
	word[n] = 0;
	const char *best = NULL;
	int bestd = n >= 6 ? 3 : 2; /* short words: one edit at most */
	for (size_t i = 0; list[i]; i++) {
		int d = kf_levenshtein(word, list[i]);
		if (d < bestd) {
			bestd = d;
			best = list[i];
		}
	}
	return best;
}

/* Reports every option of the command or section line [cmd, le) given an
 * empty value (--opt=, --opt="", --opt=''): Anaconda refuses them, and a
 * template renders one from an empty variable.  Quoted values may hold
 * spaces.  Returns how many there were. */
static int empty_options(const char *cmd, size_t cn, const char *le, struct kf_mark m, struct kf_err *e)
{
	int bad = 0;
	const char *line = cmd - (m.col - 1);
	for (const char *w = cmd + cn; w < le;) {
		while (w < le && (*w == ' ' || *w == '\t' || *w == '\r'))
			w++;
		const char *start = w, *eq = NULL;
		for (char q = 0; w < le && (q || (*w != ' ' && *w != '\t' && *w != '\r')); w++) {
			if (q == '"' && *w == '\\' && w + 1 < le)
				w++; /* \" and \\ inside "..." */
			else if (q && *w == q)
				q = 0;
			else if (!q && (*w == '"' || *w == '\''))
				q = *w;
			else if (!q && *w == '=' && !eq)
				eq = w;
		}
		size_t vn = eq ? (size_t)(w - eq - 1) : 1;
		if (!eq || w - start < 3 || start[0] != '-' || start[1] != '-' ||
		    !(vn == 0 || (vn == 2 && eq[1] == eq[2] && (eq[1] == '"' || eq[1] == '\''))))
			continue;
		m.col = (int)(start - line) + 1;
		kf_errf(e, &m, "%.*s: option %.*s has an empty value", (int)cn, cmd, (int)(eq - start), start);
		bad++;
	}
	return bad;
}

int kf_kscheck(const char *name, const char *text, size_t len, struct kf_err *e)
{
	int bad = 0;
	const char *open = NULL; /* the section being read */
	size_t open_n = 0;
	struct kf_mark open_mark = { name, 0, 0 };
	int line = 0;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		line++;
		const char *s = p;
		while (s < le && (*s == ' ' || *s == '\t'))
			s++;
		size_t wn = 0;
		while (s + wn < le && s[wn] != ' ' && s[wn] != '\t' && s[wn] != '\r')
			wn++;
		struct kf_mark m = { name, line, (int)(s - p) + 1 };
		p = nl ? nl + 1 : end;
		if (wn == 0 || *s == '#')
			continue;
		if (*s == '%') {
			if (wn == 4 && !memcmp(s, "%end", 4)) {
				if (!open) {
					kf_errf(e, &m, "%%end without an open section");
					bad = 1;
				}
				open = NULL;
				continue;
			}
			if (in_list(sections, s, wn)) {
				if (open) {
					kf_errf(e, &m, "section %.*s starts inside %.*s (line %d has no %%end)",
						(int)wn, s, (int)open_n, open, open_mark.line);
					bad = 1;
				}
				open = s;
				open_n = wn;
				open_mark = m;
				bad |= empty_options(s, wn, le, m, e) > 0;
				continue;
			}
			if (in_list(directives, s, wn))
				continue;
			if (open && (!memcmp(open, "%pre", 4) || !memcmp(open, "%post", 5) ||
				     !memcmp(open, "%onerror", 8) || !memcmp(open, "%traceback", 10)))
				continue; /* a script may print anything */
			const char *sg = suggest(sections, s, wn);
			if (sg)
				kf_errf(e, &m, "unknown section \"%.*s\" (did you mean \"%s\"?)", (int)wn, s, sg);
			else
				kf_errf(e, &m, "unknown section \"%.*s\"", (int)wn, s);
			bad = 1;
			continue;
		}
		if (open)
			continue; /* script lines, package names, addon data */
		if (!in_list(commands, s, wn)) {
			const char *sg = suggest(commands, s, wn);
			if (sg)
				kf_errf(e, &m, "unknown kickstart command \"%.*s\" (did you mean \"%s\"?)",
					(int)wn, s, sg);
			else
				kf_errf(e, &m, "unknown kickstart command \"%.*s\"", (int)wn, s);
			bad = 1;
		} else {
			bad |= empty_options(s, wn, le, m, e) > 0;
		}
	}
	if (open) {
		kf_errf(e, &open_mark, "section %.*s is not closed (no %%end)", (int)open_n, open);
		bad = 1;
	}
	return bad ? -EINVAL : 0;
}
