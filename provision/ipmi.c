/* The libfreeipmi adapter: hosts' BMCs over IPMI 2.0 (RMCP+, "lanplus")
 * or 1.5 ("lan"), as the power backend "ipmi" (provision/power.h).  The
 * only file that talks to libfreeipmi; it is opened at first use
 * (lib/dl.h), so every command but `power` and `reinstall` runs without it.
 *
 * The password is read from password_file when a session opens, handed to
 * the library and wiped; it is never copied into a message. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <freeipmi/freeipmi.h>

#include "dl.h"
#include "provision/power.h"
#include "util.h"

#define IPMI_FNS(F)                                                                         \
	F(ipmi_ctx_create) F(ipmi_ctx_destroy) F(ipmi_ctx_close) F(ipmi_ctx_errnum)         \
	F(ipmi_ctx_errormsg) F(ipmi_ctx_open_outofband) F(ipmi_ctx_open_outofband_2_0)      \
	F(ipmi_cmd_get_chassis_status) F(ipmi_cmd_chassis_control)                          \
	F(ipmi_cmd_set_system_boot_options_boot_flags) F(fiid_obj_create) F(fiid_obj_destroy) \
	F(fiid_obj_get) F(tmpl_cmd_get_chassis_status_rs) F(tmpl_cmd_chassis_control_rs)   \
	F(tmpl_cmd_set_system_boot_options_rs)

KF_DL_TABLE(IPMI_FNS)

static struct kf_dl freeipmi = KF_DL("libfreeipmi.so.17", "libfreeipmi",
				     "cannot drive BMCs over IPMI", resolve);

#define PASSWORD_MAX 64 /* IPMI 2.0 passwords are at most 20 bytes */

struct conn {
	ipmi_ctx_t ctx;
	const struct kf_power_cfg *c;
	int timeout_ms;
};

/* What went wrong, in the words of power.h, for the library's error on
 * ctx during `what` (a session opening when what is NULL). */
static int fail(struct conn *k, const char *what, struct kf_err *e)
{
	const struct kf_power_cfg *c = k->c;
	int n = lib.ipmi_ctx_errnum(k->ctx);
	const char *msg = lib.ipmi_ctx_errormsg(k->ctx);
	double s = k->timeout_ms / 1000.0;
	switch (n) {
	case IPMI_ERR_USERNAME_INVALID:
	case IPMI_ERR_PASSWORD_INVALID:
	case IPMI_ERR_K_G_INVALID:
	case IPMI_ERR_PASSWORD_VERIFICATION_TIMEOUT:
		return kf_errc(e, -EACCES, NULL, "IPMI authentication failed (%s@%s:%d)", c->user,
			       c->address, c->port);
	case IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED:
		return kf_errc(e, -EACCES, NULL,
			       "IPMI authentication failed (%s@%s:%d): no administrator privilege", c->user,
			       c->address, c->port);
	case IPMI_ERR_CONNECTION_TIMEOUT:
		return kf_errc(e, -EHOSTUNREACH, NULL, "BMC unreachable: no answer from %s:%d within %.1f s",
			       c->address, c->port, s);
	case IPMI_ERR_HOSTNAME_INVALID:
		return kf_errc(e, -EHOSTUNREACH, NULL, "BMC unreachable: cannot resolve %s", c->address);
	case IPMI_ERR_SESSION_TIMEOUT:
	case IPMI_ERR_MESSAGE_TIMEOUT:
		return kf_errc(e, -ETIMEDOUT, NULL, "timed out: %s at %s:%d after %.1f s",
			       what ? what : "session", c->address, c->port, s);
	case IPMI_ERR_SYSTEM_ERROR:
		if (!what)
			return kf_errc(e, -EHOSTUNREACH, NULL, "BMC unreachable: %s:%d: %s", c->address,
				       c->port, msg);
		break;
	case IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
	case IPMI_ERR_COMMAND_INVALID_OR_UNSUPPORTED:
	case IPMI_ERR_BAD_COMPLETION_CODE:
	case IPMI_ERR_BAD_RMCPPLUS_STATUS_CODE:
	case IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE:
	case IPMI_ERR_AUTHENTICATION_TYPE_UNAVAILABLE:
	case IPMI_ERR_IPMI_2_0_UNAVAILABLE:
	case IPMI_ERR_BMC_BUSY:
		return kf_errc(e, -EREMOTEIO, NULL, "refused by the BMC: %s: %s", what ? what : "session",
			       msg);
	default:
		break;
	}
	return kf_errc(e, -EIO, NULL, "IPMI %s with %s:%d: %s", what ? what : "session", c->address,
		       c->port, msg);
}

/* The password: the file's first line, at most PASSWORD_MAX bytes. */
static int read_password(const struct kf_power_cfg *c, char *out, struct kf_err *e)
{
	char *buf = NULL;
	size_t len = 0;
	int r = kf_read_file(c->password_file, 4096, &buf, &len);
	if (r < 0)
		return kf_errc(e, r, NULL, "password_file %s: %s", c->password_file, strerror(-r));
	size_t n = strcspn(buf, "\r\n");
	if (n > PASSWORD_MAX)
		r = kf_errc(e, -EINVAL, NULL, "password_file %s: longer than %d bytes",
			    c->password_file, PASSWORD_MAX);
	else
		memcpy(out, buf, n);
	out[r < 0 ? 0 : n] = 0;
	explicit_bzero(buf, len);
	free(buf);
	return r < 0 ? r : 0;
}

static int open_session(struct conn *k, const char *pw, const struct kf_power_opts *o)
{
	const struct kf_power_cfg *c = k->c;
	char *host = kf_xasprintf("%s:%d", c->address, c->port);
	unsigned timeout = (unsigned)o->timeout_ms;
	unsigned retrans = timeout / (unsigned)(o->retries + 1);
	int r;
	if (c->interface == KF_IPMI_LAN)
		r = lib.ipmi_ctx_open_outofband(k->ctx, host, c->user, pw, IPMI_AUTHENTICATION_TYPE_MD5,
						IPMI_PRIVILEGE_LEVEL_ADMIN, timeout, retrans, 0,
						IPMI_FLAGS_DEFAULT);
	else /* the privilege asked for in Open Session, as ipmitool does: BMCs like
	      * OpenIPMI's refuse the "highest available" request libfreeipmi
	      * sends by default */
		r = lib.ipmi_ctx_open_outofband_2_0(k->ctx, host, c->user, pw, NULL, 0,
						    IPMI_PRIVILEGE_LEVEL_ADMIN, (uint8_t)c->cipher_suite,
						    timeout, retrans,
						    IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE,
						    IPMI_FLAGS_DEFAULT);
	free(host);
	return r;
}

static void ipmi_close(void *conn)
{
	struct conn *k = conn;
	if (!k)
		return;
	if (k->ctx) {
		lib.ipmi_ctx_close(k->ctx);
		lib.ipmi_ctx_destroy(k->ctx);
	}
	free(k);
}

static int ipmi_open(const struct kf_power_cfg *c, const struct kf_power_opts *o, void **out,
		     struct kf_err *e)
{
	char pw[PASSWORD_MAX + 1];
	struct conn *k = NULL;
	int r;
	*out = NULL;
	if ((r = kf_dl_load(&freeipmi, e)) < 0)
		return r;
	if ((r = read_password(c, pw, e)) < 0)
		return r;
	k = kf_xcalloc(1, sizeof(*k));
	k->c = c;
	k->timeout_ms = o->timeout_ms;
	if (!(k->ctx = lib.ipmi_ctx_create())) {
		r = kf_errc(e, -ENOMEM, NULL, "IPMI: cannot create a context");
		goto out;
	}
	if (open_session(k, pw, o) < 0) {
		r = fail(k, NULL, e);
		goto out;
	}
	*out = k;
	k = NULL;
	r = 0;
out:
	explicit_bzero(pw, sizeof(pw));
	ipmi_close(k);
	return r;
}

static int ipmi_status(void *conn, bool *on, struct kf_err *e)
{
	struct conn *k = conn;
	uint64_t v = 0;
	int r = 0;
	fiid_obj_t rs = lib.fiid_obj_create(*lib.tmpl_cmd_get_chassis_status_rs);
	if (!rs)
		return kf_errc(e, -ENOMEM, NULL, "IPMI: cannot allocate a response");
	if (lib.ipmi_cmd_get_chassis_status(k->ctx, rs) < 0)
		r = fail(k, "get chassis status", e);
	else if (lib.fiid_obj_get(rs, "current_power_state.power_is_on", &v) < 0)
		r = kf_errc(e, -EREMOTEIO, NULL, "refused by the BMC: chassis status without power state");
	lib.fiid_obj_destroy(rs);
	*on = v != 0;
	return r;
}

static int control(struct conn *k, uint8_t what, const char *name, struct kf_err *e)
{
	int r = 0;
	fiid_obj_t rs = lib.fiid_obj_create(*lib.tmpl_cmd_chassis_control_rs);
	if (!rs)
		return kf_errc(e, -ENOMEM, NULL, "IPMI: cannot allocate a response");
	if (lib.ipmi_cmd_chassis_control(k->ctx, what, rs) < 0)
		r = fail(k, name, e);
	lib.fiid_obj_destroy(rs);
	return r;
}

static int ipmi_on(void *conn, struct kf_err *e)
{
	return control(conn, IPMI_CHASSIS_CONTROL_POWER_UP, "chassis power on", e);
}

static int ipmi_off(void *conn, struct kf_err *e)
{
	return control(conn, IPMI_CHASSIS_CONTROL_POWER_DOWN, "chassis power off", e);
}

static int ipmi_cycle(void *conn, struct kf_err *e)
{
	return control(conn, IPMI_CHASSIS_CONTROL_POWER_CYCLE, "chassis power cycle", e);
}

static int ipmi_reset(void *conn, struct kf_err *e)
{
	return control(conn, IPMI_CHASSIS_CONTROL_HARD_RESET, "chassis reset", e);
}

/* Boot flags (parameter 5): valid for the next boot only, device PXE,
 * boot type EFI for UEFI hosts; everything else left to the BIOS. */
static int ipmi_set_pxe(void *conn, struct kf_err *e)
{
	struct conn *k = conn;
	int r = 0;
	uint8_t type = k->c->firmware == KF_FW_UEFI ? IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_EFI
						    : IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_PC_COMPATIBLE;
	fiid_obj_t rs = lib.fiid_obj_create(*lib.tmpl_cmd_set_system_boot_options_rs);
	if (!rs)
		return kf_errc(e, -ENOMEM, NULL, "IPMI: cannot allocate a response");
	const uint8_t off = IPMI_SYSTEM_BOOT_OPTION_DISABLE;
	if (lib.ipmi_cmd_set_system_boot_options_boot_flags(
		    k->ctx, IPMI_SYSTEM_BOOT_OPTIONS_PARAMETER_VALID_UNLOCKED, type,
		    IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_VALID_FOR_NEXT_BOOT,
		    IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_VALID, off, off,
		    IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_PXE, off, off,
		    IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_CONSOLE_REDIRECTION_DEFAULT, off, off, off,
		    IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_FIRMWARE_BIOS_VERBOSITY_DEFAULT, off, 0, 0, 0,
		    rs) < 0)
		r = fail(k, "set boot device pxe", e);
	lib.fiid_obj_destroy(rs);
	return r;
}

const struct kf_power_backend kf_power_ipmi = {
	.type = "ipmi",
	.open = ipmi_open,
	.close = ipmi_close,
	.status = ipmi_status,
	.on = ipmi_on,
	.off = ipmi_off,
	.cycle = ipmi_cycle,
	.reset = ipmi_reset,
	.set_pxe = ipmi_set_pxe,
};
