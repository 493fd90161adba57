/* The agent's credential file (agent/credential.h). */
#include "agent/credential.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *file;
static char cred[KF_AGENT_CRED_LEN + 1];
static int loaded; /* 1: read (cred "" when there is none) */

void kf_agent_cred_file(const char *path)
{
	file = path;
	loaded = 0;
}

static const char *file_name(void)
{
	if (file && *file)
		return file;
	const char *env = getenv("KICKFLEET_CREDENTIAL");
	return env && *env ? env : KF_AGENT_CRED_DEFAULT;
}

int kf_agent_cred_ok(const char *s)
{
	size_t n = s ? strspn(s, "0123456789abcdef") : 0;
	return n == KF_AGENT_CRED_LEN && !s[n];
}

const char *kf_agent_cred(void)
{
	if (!loaded) {
		loaded = 1;
		cred[0] = 0;
		char *path = kf_path("%s", file_name()), *text = NULL;
		size_t len = 0;
		if (kf_read_file(path, 4096, &text, &len) == 0) {
			kf_rstrip(text);
			if (kf_agent_cred_ok(text))
				memcpy(cred, text, sizeof(cred));
			else
				kf_log(KF_LOG_WARN, "%s: not an agent credential (%d hex digits expected)",
				       path, KF_AGENT_CRED_LEN);
			explicit_bzero(text, len);
		}
		free(text);
		free(path);
	}
	return cred[0] ? cred : NULL;
}

int kf_agent_cred_replace(const char *c, struct kf_err *e)
{
	if (!kf_agent_cred_ok(c))
		return kf_errc(e, -EINVAL, NULL, "the provisioner's new credential is malformed");
	char *path = kf_path("%s", file_name());
	char line[KF_AGENT_CRED_LEN + 2];
	memcpy(line, c, KF_AGENT_CRED_LEN);
	line[KF_AGENT_CRED_LEN] = '\n';
	line[KF_AGENT_CRED_LEN + 1] = 0;
	int r = kf_write_atomic(path, line, KF_AGENT_CRED_LEN + 1, 0600);
	if (r < 0)
		kf_errc(e, r, NULL, "%s: cannot keep the new agent credential: %s", path, strerror(-r));
	else {
		memcpy(cred, c, KF_AGENT_CRED_LEN + 1);
		loaded = 1;
	}
	explicit_bzero(line, sizeof(line));
	free(path);
	return r;
}
