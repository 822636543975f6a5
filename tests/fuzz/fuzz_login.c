/* libFuzzer: pam_sm_authenticate itself, with an arbitrary state record for
 * the user and arbitrary conversation answers.  The input is the record,
 * a NUL byte, then the answers separated by newlines.  Nothing may crash,
 * the result is always one of the codes pam_mfa(8) documents, and a record
 * that does not parse is never changed (corrupt state fails closed). */
#include <fcntl.h>
#include <limits.h>
#include <security/pam_appl.h>
#include <security/pam_modules.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[PATH_MAX], record_path[PATH_MAX], config_arg[PATH_MAX + 8];

struct answers {
	const char *p, *end;
};

static int converse(int n, const struct pam_message **msg, struct pam_response **resp,
		    void *appdata)
{
	struct answers *a = appdata;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *nl;

		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF &&
		    msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		if (a->p >= a->end) {
			for (int j = 0; j < i; j++)
				free(r[j].resp);
			free(r);
			return PAM_CONV_ERR;
		}
		nl = memchr(a->p, '\n', (size_t)(a->end - a->p));
		if (nl == NULL)
			nl = a->end;
		r[i].resp = strndup(a->p, (size_t)(nl - a->p));
		a->p = nl < a->end ? nl + 1 : nl;
	}
	*resp = r;
	return PAM_SUCCESS;
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		abort();
	close(fd);
}

static void setup(void)
{
	char dir[PATH_MAX], conf[PATH_MAX], text[PATH_MAX + 256];
	const char *base = getenv("FUZZ_TMPDIR");
	int n;

	(void)snprintf(root, sizeof(root), "%s/fuzz-login.XXXXXX", base ? base : "/tmp");
	if (mkdtemp(root) == NULL)
		abort();
	(void)snprintf(dir, sizeof(dir), "%s/state", root);
	if (mkdir(dir, 0700) < 0)
		abort();
	(void)snprintf(record_path, sizeof(record_path), "%s/root", dir);
	(void)snprintf(conf, sizeof(conf), "%s/pam_mfa.conf", root);
	n = snprintf(text, sizeof(text),
		     "state_dir = \"%s\";\nfail_delay_ms = 0;\ndefault_policy = \"opt-out\";\n"
		     "lockout = { attempts = 3; interval = 60; unlock_after = 0; };\n",
		     dir);
	write_file(conf, text, (size_t)n, 0600);
	(void)snprintf(config_arg, sizeof(config_arg), "config=%s", conf);
	/* pam_start_confdir() wants a stack; the module is called directly. */
	(void)snprintf(conf, sizeof(conf), "%s/fuzz", root);
	write_file(conf, "auth required pam_permit.so\n", 28, 0644);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	struct answers a;
	struct pam_conv conv = { converse, &a };
	const char *argv[1];
	pam_handle_t *pamh = NULL;
	bool corrupt;
	int r;

	if (root[0] == '\0')
		setup();
	if (nul == NULL)
		nul = data + size;
	/* "root" is in every passwd database, so no NSS wrapper is needed. */
	(void)unlink(record_path);
	if (nul > data)
		write_file(record_path, (const char *)data, (size_t)(nul - data), 0600);
	{
		struct mfa_record rec;
		struct mfa_error err;

		corrupt = nul > data && record_parse((const char *)data, (size_t)(nul - data),
						     "root", &rec, &err) != 0;
		if (!corrupt)
			record_wipe(&rec);
	}
	a.p = (const char *)(nul < data + size ? nul + 1 : nul);
	a.end = (const char *)(data + size);
	if (pam_start_confdir("fuzz", "root", &conv, root, &pamh) != PAM_SUCCESS)
		abort();
	argv[0] = config_arg;
	r = pam_sm_authenticate(pamh, 0, 1, argv);
	switch (r) {
	case PAM_SUCCESS:
	case PAM_IGNORE:
	case PAM_AUTH_ERR:
	case PAM_PERM_DENIED:
	case PAM_USER_UNKNOWN:
	case PAM_CONV_ERR:
	case PAM_SERVICE_ERR:
	case PAM_AUTHINFO_UNAVAIL:
	case PAM_BUF_ERR: break;
	default: abort();
	}
	if (corrupt) {
		char after[STORE_RECORD_MAX * 2];
		int fd = open(record_path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, after, sizeof(after));

		if (fd >= 0)
			close(fd);
		/* Files over the cap are read only that far; compare what fits. */
		if (r == PAM_SUCCESS || n < 0 ||
		    ((size_t)n < sizeof(after) &&
		     ((size_t)n != (size_t)(nul - data) || memcmp(after, data, (size_t)n) != 0)))
			abort();
	}
	pam_end(pamh, r);
	return 0;
}
