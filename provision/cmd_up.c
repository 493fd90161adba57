/* kickfleet up: render, then dnsmasq + in.tftpd as child processes and the
 * HTTP server in this process, in the foreground.  Children's logs are
 * relayed with a prefix; SIGHUP re-renders (dnsmasq is signalled, never
 * restarted); SIGINT/SIGTERM, or a child dying, stops everything. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inventory.h"
#include "provision/cmd.h"
#include "provision/privdrop.h"
#include "provision/render.h"
#include "provision/serve.h"
#include "provision/serve_cli.h"
#include "util.h"

/* UEFI firmware asks for large TFTP blocks; 1468 fits a 1500-byte MTU. */
#define TFTP_BLKSIZE "1468"

static void usage(FILE *f)
{
	fputs("usage: kickfleet up [-f FLEET] [-o DIR] [--listen ADDR:PORT] [OPTIONS]\n"
	      "\n"
	      "Renders the fleet, then runs dnsmasq (DHCP, the rendered --conf-file),\n"
	      "in.tftpd (tftp-hpa, the TFTP root, blocksize " TFTP_BLKSIZE ") and the HTTP server,\n"
	      "in the foreground, their logs prefixed.  SIGHUP re-renders and signals\n"
	      "dnsmasq; SIGINT or SIGTERM, or a child that dies, stops all of them.\n"
	      "\n"
	      "  -f, --fleet FILE      inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --dir DIR         render into DIR (as kickfleet render -o DIR)\n"
	      "  -l, --listen A:P      HTTP address and port (default provisioner.address:http_port)\n"
	      "      --agent FILE      the agent binary served at /agent/kickfleet-agent\n"
	      "      --api-tokens FILE admin tokens of /api/v1/ and the page /ui/ (docs/api.md)\n"
	      "      --threads N       HTTP worker threads\n"
	      "      --timeout SEC     close idle HTTP connections after SEC\n"
	      KF_SERVE_LIMITS_HELP KF_SERVE_SEGMENT_HELP KF_SERVE_TLS_HELP KF_SERVE_USER_HELP
	      "  -v, --verbose         debug lines\n"
	      "  -h, --help            this help\n"
	      "\n"
	      "Environment: KF_DNSMASQ, KF_TFTPD name other binaries (tests).\n",
	      f);
}

struct child {
	const char *name;
	pid_t pid;  /* what this process forked: the program, or its keeper */
	pid_t prog; /* the program (its keeper's child when kept) */
	int out;    /* read end of its stdout+stderr, -1 when closed */
	int ctl;    /* a keeper's control socket, -1 when none: closing it stops the program */
	struct kf_buf line;
};

struct up {
	struct kf_serve_cli cli;
	struct kf_priv priv; /* whom up runs as after start */
	struct kf_inventory *inv;
	struct kf_serve *srv;
	struct child kids[2]; /* dnsmasq, in.tftpd */
	int logsock;          /* in.tftpd's syslog socket */
	char *logpath, *nsdir, *dnsmasq_dir, *tftp_root, *state_dir;
	int sigfd;
};

static void relay_line(const char *who, const char *s, size_t n)
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (n)
		fprintf(stderr, "%s: %.*s\n", who, (int)n, s);
}

static void relay(struct child *c)
{
	char buf[4096];
	ssize_t n = read(c->out, buf, sizeof(buf));
	if (n <= 0) {
		if (c->line.len)
			relay_line(c->name, c->line.s, c->line.len);
		c->line.len = 0;
		close(c->out);
		c->out = -1;
		return;
	}
	kf_buf_add(&c->line, buf, (size_t)n);
	char *start = c->line.s, *nl;
	while ((nl = memchr(start, '\n', c->line.len - (size_t)(start - c->line.s)))) {
		relay_line(c->name, start, (size_t)(nl - start));
		start = nl + 1;
	}
	size_t rest = c->line.len - (size_t)(start - c->line.s);
	memmove(c->line.s, start, rest);
	c->line.len = rest;
	if (c->line.len > 8192) { /* a line without end: flush it */
		relay_line(c->name, c->line.s, c->line.len);
		c->line.len = 0;
	}
}

/* One syslog datagram "<30>Nov 26 12:00:00 in.tftpd[12]: message". */
static void relay_syslog(int fd)
{
	char buf[2048];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return;
	buf[n] = 0;
	char *msg = buf;
	if (*msg == '<' && (msg = strchr(msg, '>')))
		msg++;
	else
		msg = buf;
	char *tag = strstr(msg, "]: ");
	relay_line("tftpd", tag ? tag + 3 : msg, strlen(tag ? tag + 3 : msg));
}

/* In the child: a mount namespace of its own where /dev/log is sock
 * (the machine may have no syslog), with /dev/null and friends kept. */
static int private_dev_log(const char *sock, const char *nsdir)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	if (mount("tmpfs", nsdir, "tmpfs", 0, "mode=0755,size=64k") < 0)
		return -errno;
	static const char *const devs[] = { "null", "zero", "urandom", "random" };
	char p[512];
	for (size_t i = 0; i < KF_ARRAY_SIZE(devs); i++) {
		snprintf(p, sizeof(p), "%s/%s", nsdir, devs[i]);
		close(open(p, O_CREAT | O_WRONLY, 0644));
		char src[64];
		snprintf(src, sizeof(src), "/dev/%s", devs[i]);
		mount(src, p, NULL, MS_BIND, NULL);
	}
	snprintf(p, sizeof(p), "%s/log", nsdir);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	if (mount(sock, p, NULL, MS_BIND, NULL) < 0)
		return -errno;
	if (mount(nsdir, "/dev", NULL, MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	return 0;
}

/* Mirrors a child's end in this process's own. */
static _Noreturn void exit_like(int status)
{
	if (WIFSIGNALED(status)) {
		sigset_t all;
		sigfillset(&all);
		signal(WTERMSIG(status), SIG_DFL);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		raise(WTERMSIG(status));
		_exit(128 + WTERMSIG(status));
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* In the child: a process that stays as it is (root) only to start argv
 * and to stop it later, as up cannot once unprivileged, and as a
 * parent-death signal cannot once the program dropped privileges itself
 * (dnsmasq and in.tftpd do even when up stays root: an up killed by -9
 * would leave them answering, and a segment's other provisioner,
 * docs/scale.md, would not be the only one left).  It
 * sends the program's pid over ctl, stops the program (SIGTERM, SIGKILL
 * after 4 s) when ctl closes (up stops, or dies: no PDEATHSIG comes from
 * an unprivileged parent to a root child) or when root sends it SIGTERM,
 * passes SIGHUP on, and ends as the program ended. */
static _Noreturn void keep(int ctl, char *const argv[])
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ctl);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (pid < 0 || write(ctl, &pid, sizeof(pid)) != sizeof(pid))
		_exit(127);
	struct timespec stop = { 0 }, tick = { 0, 100000000 };
	for (;;) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid)
			exit_like(status);
		int sig = sigtimedwait(&set, NULL, &tick);
		struct pollfd p = { .fd = ctl, .events = POLLIN };
		char b;
		bool gone = poll(&p, 1, 0) > 0 && read(ctl, &b, 1) <= 0;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (sig == SIGHUP)
			kill(pid, SIGHUP);
		if ((sig == SIGTERM || sig == SIGINT || gone) && !stop.tv_sec) {
			kill(pid, SIGTERM);
			stop = now;
		}
		if (stop.tv_sec && now.tv_sec - stop.tv_sec >= 4)
			kill(pid, SIGKILL);
	}
}

static int spawn(struct up *u, struct child *c, char *const argv[], bool tftpd)
{
	int pfd[2], sv[2] = { -1, -1 };
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		int err = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -err;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int err = errno;
		close(pfd[0]);
		close(pfd[1]);
		if (sv[0] >= 0) {
			close(sv[0]);
			close(sv[1]);
		}
		return -err;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		if (tftpd) {
			int r = private_dev_log(u->logpath, u->nsdir);
			if (r < 0) {
				fprintf(stderr, "cannot give in.tftpd a /dev/log: %s\n", strerror(-r));
				_exit(127);
			}
		}
		if (sv[1] >= 0) {
			/* a keeper keeps nothing of up's but its output and its
			 * socket (as fd 3): not the HTTP sockets, not the state,
			 * not the other keepers' sockets (or no close reaches them) */
			if (dup2(sv[1], 3) < 0 || close_range(4, ~0u, 0) < 0)
				_exit(127);
			keep(3, argv);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	c->pid = c->prog = pid;
	c->out = pfd[0];
	if (sv[0] >= 0) {
		close(sv[1]);
		c->ctl = sv[0];
		if (read(c->ctl, &c->prog, sizeof(c->prog)) != sizeof(c->prog))
			c->prog = pid; /* the keeper failed; SIGCHLD says so */
		kf_log(KF_LOG_INFO, "up: started %s (pid %d, kept by pid %d)", c->name, (int)c->prog,
		       (int)pid);
	} else {
		kf_log(KF_LOG_INFO, "up: started %s (pid %d)", c->name, (int)pid);
	}
	return 0;
}

static int open_logsock(struct up *u, struct kf_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(u->logpath) >= sizeof(sa.sun_path))
		return kf_errc(e, -ENAMETOOLONG, NULL, "up: socket path %s is too long", u->logpath);
	strcpy(sa.sun_path, u->logpath);
	unlink(u->logpath);
	u->logsock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u->logsock < 0 || bind(u->logsock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return kf_errc(e, -errno, NULL, "up: syslog socket %s: %s", u->logpath, strerror(errno));
	chmod(u->logpath, 0666);
	return 0;
}

static const char *why(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "stopped (status %#x)", status);
	return buf;
}

/* Stops the children: SIGTERM, then SIGKILL after 5 s; reaps them all. */
static void stop_children(struct up *u)
{
	for (size_t i = 0; i < KF_ARRAY_SIZE(u->kids); i++) {
		if (u->kids[i].ctl >= 0) { /* its keeper stops it */
			close(u->kids[i].ctl);
			u->kids[i].ctl = -1;
		} else if (u->kids[i].pid > 0) {
			kill(u->kids[i].pid, SIGTERM);
		}
	}
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bool killed = false;
	for (;;) {
		bool left = false;
		for (size_t i = 0; i < KF_ARRAY_SIZE(u->kids); i++) {
			struct child *c = &u->kids[i];
			int status;
			if (c->pid > 0 && waitpid(c->pid, &status, WNOHANG) == c->pid) {
				char b[96];
				kf_log(KF_LOG_INFO, "up: %s (pid %d) %s", c->name, (int)c->pid,
				       why(status, b, sizeof(b)));
				c->pid = 0;
			}
			left |= c->pid > 0;
		}
		if (!left)
			break;
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (!killed && t.tv_sec - t0.tv_sec >= 5) {
			killed = true; /* once: a keeper (root) refuses it, and kills on its own */
			for (size_t i = 0; i < KF_ARRAY_SIZE(u->kids); i++)
				if (u->kids[i].pid > 0) {
					kf_log(KF_LOG_WARN, "up: %s (pid %d) ignores SIGTERM, killing it",
					       u->kids[i].name, (int)u->kids[i].pid);
					kill(u->kids[i].pid, SIGKILL);
				}
		}
		usleep(20000);
	}
	for (size_t i = 0; i < KF_ARRAY_SIZE(u->kids); i++) {
		while (u->kids[i].out >= 0)
			relay(&u->kids[i]);
		kf_buf_release(&u->kids[i].line);
	}
}

static int render(const struct kf_inventory *inv, const char *outdir, struct kf_err *e)
{
	struct kf_render_opts ro = { .outdir = outdir, .stage = true };
	struct kf_render_stats rs = { 0 };
	struct kf_err warn = KF_ERR_INIT;
	int r = kf_render_all(inv, &ro, &rs, &warn, e);
	kf_err_print(&warn, stderr);
	kf_err_release(&warn);
	if (r == 0)
		kf_log(KF_LOG_INFO, "up: rendered %zu hosts (%zu new, %zu changed, %zu removed)%s", rs.hosts,
		       rs.added, rs.changed, rs.removed, rs.sighup_sent ? ", dnsmasq signalled" : "");
	return r;
}

struct reload {
	struct up *u;
	struct kf_inventory *ninv;
	struct kf_err *e;
};

/* With every handler paused: render the new inventory, then swap it in. */
static int reload_locked(struct kf_serve *s, void *arg)
{
	struct reload *rl = arg;
	int r = render(rl->ninv, rl->u->cli.o.outdir, rl->e);
	if (r == 0) {
		rl->u->inv = rl->ninv;
		rl->ninv = kf_serve_swap_locked(s, rl->ninv); /* the old one, freed by reload() */
	}
	return r;
}

static void reload(struct up *u)
{
	struct kf_inventory *ninv = NULL;
	if (kf_serve_load(&u->cli, &ninv) < 0) {
		kf_log(KF_LOG_ERR, "up: %s does not load, nothing re-rendered", u->cli.fleet);
		return;
	}
	struct kf_err e = KF_ERR_INIT;
	struct reload rl = { u, ninv, &e };
	if (kf_serve_exclusive(u->srv, reload_locked, &rl) < 0) {
		kf_err_print(&e, stderr);
		kf_log(KF_LOG_ERR, "up: re-render failed, keeping the previous files");
	} else {
		kf_log(KF_LOG_INFO, "up: reloaded %s", u->cli.fleet);
	}
	kf_inventory_free(rl.ninv); /* the old one after a swap, else the new */
	kf_err_release(&e);
}

/* The main loop: signals, children's output, in.tftpd's syslog.  Returns
 * the exit code. */
static int run(struct up *u)
{
	for (;;) {
		struct pollfd p[4];
		int n = 0;
		p[n++] = (struct pollfd){ .fd = u->sigfd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = u->logsock, .events = POLLIN };
		for (size_t i = 0; i < KF_ARRAY_SIZE(u->kids); i++)
			p[n++] = (struct pollfd){ .fd = u->kids[i].out, .events = POLLIN };
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			kf_log(KF_LOG_ERR, "up: poll: %s", strerror(errno));
			return 1;
		}
		for (size_t i = 0; i < KF_ARRAY_SIZE(u->kids); i++)
			if (p[2 + i].revents)
				relay(&u->kids[i]);
		if (p[1].revents)
			relay_syslog(u->logsock);
		if (!p[0].revents)
			continue;
		struct signalfd_siginfo si;
		if (read(u->sigfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			kf_log(KF_LOG_INFO, "up: SIGHUP: re-rendering");
			reload(u);
			kf_serve_cli_tls_reload(u->srv, &u->cli);
		} else if (si.ssi_signo == SIGCHLD) {
			for (size_t i = 0; i < KF_ARRAY_SIZE(u->kids); i++) {
				struct child *c = &u->kids[i];
				int status;
				if (c->pid > 0 && waitpid(c->pid, &status, WNOHANG) == c->pid) {
					char b[96];
					while (c->out >= 0)
						relay(c);
					kf_log(KF_LOG_ERR, "up: %s (pid %d) %s unexpectedly; stopping everything",
					       c->name, (int)c->pid, why(status, b, sizeof(b)));
					c->pid = 0;
					return 1;
				}
			}
		} else {
			kf_log(KF_LOG_INFO, "up: %s: stopping", strsignal((int)si.ssi_signo));
			return 0;
		}
	}
}

/* Blocks the signals the main loop reads and returns a signalfd for them. */
static int signal_fd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC);
}

/* in.tftpd on the provisioner's address, serving the TFTP root. */
static int start_tftpd(struct up *u, const char *address, struct kf_err *e)
{
	const char *tftpd = getenv("KF_TFTPD") ? getenv("KF_TFTPD") : "in.tftpd";
	char *taddr = kf_xasprintf("%s:69", address);
	/* transfers run as up's user, who owns the tree (nobody otherwise) */
	char *argv[] = { (char *)tftpd, "-L", "-v", "-s", "-B", TFTP_BLKSIZE, "-a", taddr, u->tftp_root,
			 u->priv.drop ? "-u" : NULL, u->priv.user, NULL };
	int r = spawn(u, &u->kids[1], argv, true);
	free(taddr);
	return r < 0 ? kf_errf(e, NULL, "up: cannot start %s: %s", tftpd, strerror(-r)) : 0;
}

/* dnsmasq on the rendered configuration, in the foreground. */
static int start_dnsmasq(struct up *u, struct kf_err *e)
{
	const char *dnsmasq = getenv("KF_DNSMASQ") ? getenv("KF_DNSMASQ") : "dnsmasq";
	char *conf = kf_xasprintf("--conf-file=%s/dnsmasq.conf", u->dnsmasq_dir);
	/* dnsmasq drops to an unprivileged user: up's own, which owns the
	 * state directory and can signal it; else its default, unless a
	 * private state directory (mode 0700, as mktemp makes) keeps it out
	 * of its own files */
	struct stat sb;
	bool as_root = !u->priv.drop && stat(u->state_dir, &sb) == 0 && !(sb.st_mode & S_IXOTH);
	if (as_root)
		kf_log(KF_LOG_INFO, "up: %s is private (mode %03o): dnsmasq keeps running as root",
		       u->state_dir, (unsigned)(sb.st_mode & 0777));
	char *user = u->priv.drop ? kf_xasprintf("--user=%s", u->priv.user)
		     : as_root	  ? kf_xstrdup("--user=root")
				  : NULL;
	char *group = u->priv.drop ? kf_xasprintf("--group=%s", u->priv.group)
		      : as_root	   ? kf_xstrdup("--group=root")
				   : NULL;
	char *argv[] = { (char *)dnsmasq, "--keep-in-foreground", conf, "--log-facility=-", user, group, NULL };
	int r = spawn(u, &u->kids[0], argv, false);
	free(conf);
	free(user);
	free(group);
	if (r < 0)
		return kf_errf(e, NULL, "up: cannot start %s: %s", dnsmasq, strerror(-r));
	kf_serve_set_dnsmasq(u->srv, u->kids[0].prog);
	return 0;
}

int cmd_up(int argc, char **argv)
{
	struct up u = { .logsock = -1, .sigfd = -1,
			.kids = { { .name = "dnsmasq", .out = -1, .ctl = -1 },
				  { .name = "tftpd", .out = -1, .ctl = -1 } } };
	int rc = kf_serve_cli(argc, argv, &u.cli, usage);
	if (rc >= 0)
		return rc;
	rc = 1;
	u.sigfd = signal_fd();

	struct kf_err e = KF_ERR_INIT;
	if (kf_serve_load(&u.cli, &u.inv) < 0)
		goto out;
	if (kf_serve_cli_user(&u.cli, u.inv, &u.priv) < 0)
		goto out;
	const struct kf_i_provisioner *pv = u.inv->provisioner;
	const char *outdir = u.cli.o.outdir;
	u.state_dir = kf_xstrdup(outdir ? outdir : pv->state_dir);
	u.tftp_root = outdir ? kf_xasprintf("%s/tftp", outdir) : kf_xstrdup(pv->tftp_root);
	u.dnsmasq_dir = kf_xasprintf("%s/dnsmasq", u.state_dir);
	u.logpath = kf_xasprintf("%s/tftpd.log.sock", u.state_dir);
	u.nsdir = kf_xasprintf("%s/tftpd-dev", u.state_dir);
	if (render(u.inv, outdir, &e) < 0)
		goto out;
	kf_mkdir_p(u.nsdir, 0755);
	if (open_logsock(&u, &e) < 0)
		goto out;

	u.cli.o.render = kf_serve_render_default;
	kf_httpd_hold(); /* kf_serve_cli_drop opens it */
	if (kf_serve_start(&u.srv, u.inv, &u.cli.o, &e) < 0)
		goto out;
	kf_log(KF_LOG_INFO, "up: HTTP on http://%s:%u", kf_serve_addr(u.srv), kf_serve_port(u.srv));
	if (start_tftpd(&u, pv->address, &e) < 0 || start_dnsmasq(&u, &e) < 0)
		goto out;
	if (kf_serve_cli_drop(u.srv, &u.priv) < 0)
		goto out;
	rc = run(&u);
out:
	if (e.n)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	/* HTTP first (no callback re-renders while children stop), then them */
	kf_serve_free(u.srv);
	stop_children(&u);
	if (u.logsock >= 0) {
		close(u.logsock);
		unlink(u.logpath);
	}
	if (u.nsdir)
		rmdir(u.nsdir);
	if (u.sigfd >= 0)
		close(u.sigfd);
	kf_inventory_free(u.inv);
	free(u.state_dir);
	free(u.tftp_root);
	free(u.dnsmasq_dir);
	free(u.logpath);
	free(u.nsdir);
	kf_log(KF_LOG_INFO, "up: stopped");
	return rc;
}
