/* pamrun: drives one pam_authenticate() through the real libpam, reading the
 * stack from a directory with pam_start_confdir(), so tests never touch
 * /etc/pam.d.  Answers come from stdin, one line per prompt; every message
 * is echoed to stdout, and the last line is "result: PAM_NAME". */
#include <dlfcn.h>
#include <getopt.h>
#include <security/pam_appl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conv_mode {
	bool null_answer; /* answer prompts with a NULL response */
	bool fail;	  /* the conversation itself fails */
};

static const struct {
	int code;
	const char *name;
} pam_names[] = {
#define N(x)          \
	{             \
		x, #x \
	}
	N(PAM_SUCCESS),
	N(PAM_OPEN_ERR),
	N(PAM_SYMBOL_ERR),
	N(PAM_SERVICE_ERR),
	N(PAM_SYSTEM_ERR),
	N(PAM_BUF_ERR),
	N(PAM_PERM_DENIED),
	N(PAM_AUTH_ERR),
	N(PAM_CRED_INSUFFICIENT),
	N(PAM_AUTHINFO_UNAVAIL),
	N(PAM_USER_UNKNOWN),
	N(PAM_MAXTRIES),
	N(PAM_NEW_AUTHTOK_REQD),
	N(PAM_ACCT_EXPIRED),
	N(PAM_SESSION_ERR),
	N(PAM_CRED_UNAVAIL),
	N(PAM_CRED_EXPIRED),
	N(PAM_CRED_ERR),
	N(PAM_NO_MODULE_DATA),
	N(PAM_CONV_ERR),
	N(PAM_AUTHTOK_ERR),
	N(PAM_ABORT),
	N(PAM_IGNORE),
	N(PAM_INCOMPLETE),
#undef N
};

/* Prints "loaded: NAME" for each shared object mapped now, once each:
 * what the module pulled in during the login (--maps). */
static void print_loaded(void)
{
	char line[4096], last[4096] = "";
	FILE *f = fopen("/proc/self/maps", "re");

	if (f == NULL) {
		printf("loaded: cannot read /proc/self/maps\n");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *path = strchr(line, '/');
		char *base;

		if (path == NULL)
			continue;
		path[strcspn(path, "\n")] = '\0';
		base = strrchr(path, '/') + 1;
		if (strstr(base, ".so") == NULL || strcmp(path, last) == 0)
			continue;
		(void)snprintf(last, sizeof(last), "%s", path);
		printf("loaded: %s\n", base);
	}
	(void)fclose(f);
}

static const char *pam_name(int code)
{
	for (size_t i = 0; i < sizeof(pam_names) / sizeof(pam_names[0]); i++)
		if (pam_names[i].code == code)
			return pam_names[i].name;
	return "PAM_UNKNOWN_CODE";
}

static char *read_answer(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);

	if (n < 0) {
		free(line);
		return NULL;
	}
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	return line;
}

static int converse(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	const struct conv_mode *mode = data;
	struct pam_response *r;

	if (mode->fail)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
			printf("prompt%s: %s\n",
			       msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ? "-off" : "-on",
			       msg[i]->msg);
			/* The driver must see the prompt before it can answer. */
			fflush(stdout);
			if (mode->null_answer)
				break;
			r[i].resp = read_answer();
			if (r[i].resp == NULL) {
				for (int j = 0; j < i; j++)
					free(r[j].resp);
				free(r);
				printf("(no more answers)\n");
				return PAM_CONV_ERR;
			}
			break;
		case PAM_ERROR_MSG: printf("error: %s\n", msg[i]->msg); break;
		case PAM_TEXT_INFO: printf("info: %s\n", msg[i]->msg); break;
		default: printf("unknown-style %d: %s\n", msg[i]->msg_style, msg[i]->msg); break;
		}
	}
	fflush(stdout);
	*resp = r;
	return PAM_SUCCESS;
}

/* libpam calls this instead of sleeping: the test sees the delay asked for. */
static void record_delay(int status, unsigned int usec, void *appdata)
{
	printf("fail-delay: %u\n", usec);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "confdir", required_argument, NULL, 'd' },
		{ "service", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "rhost", required_argument, NULL, 'r' },
		{ "silent", no_argument, NULL, 'q' },
		{ "null-answer", no_argument, NULL, 'n' },
		{ "conv-fail", no_argument, NULL, 'f' },
		{ "no-user", no_argument, NULL, 'U' },
		{ "maps", no_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	const char *confdir = NULL, *service = "pam_mfa_test", *user = NULL, *rhost = NULL;
	struct conv_mode mode = { false, false };
	struct pam_conv conv = { converse, &mode };
	pam_handle_t *pamh = NULL;
	bool no_user = false, maps = false;
	int c, flags = 0, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': confdir = optarg; break;
		case 's': service = optarg; break;
		case 'u': user = optarg; break;
		case 'r': rhost = optarg; break;
		case 'q': flags |= PAM_SILENT; break;
		case 'n': mode.null_answer = true; break;
		case 'f': mode.fail = true; break;
		case 'U': no_user = true; break;
		case 'm': maps = true; break;
		default:
			fprintf(stderr, "usage: pamrun --confdir DIR [--service S] --user U "
					"[--rhost H] [--silent] [--null-answer] [--conv-fail] "
					"[--maps]\n");
			return 2;
		}
	}
	if (confdir == NULL || (user == NULL && !no_user)) {
		fprintf(stderr, "pamrun: --confdir and --user are required\n");
		return 2;
	}
	/* libpam dlclose()s modules at pam_end, unmapping the dynamic TLS of
	 * the module's libraries (libcurl, OpenSSL); LeakSanitizer's tracer
	 * then walks the stale block at exit and crashes.  Holding the module
	 * with RTLD_NODELETE keeps it mapped, as in a long-lived daemon. */
	if (getenv("PAMRUN_KEEP_LOADED") != NULL &&
	    dlopen(getenv("PAMRUN_KEEP_LOADED"), RTLD_NOW | RTLD_NODELETE) == NULL)
		fprintf(stderr, "pamrun: %s\n", dlerror());
	r = pam_start_confdir(service, no_user ? NULL : user, &conv, confdir, &pamh);
	if (r != PAM_SUCCESS) {
		printf("result: pam_start_confdir failed: %s\n", pam_name(r));
		return 3;
	}
	if (rhost != NULL)
		(void)pam_set_item(pamh, PAM_RHOST, rhost);
	(void)pam_set_item(pamh, PAM_FAIL_DELAY, (const void *)record_delay);
	r = pam_authenticate(pamh, flags);
	if (maps)
		print_loaded();
	if (r == PAM_SUCCESS)
		printf("setcred: %s\n", pam_name(pam_setcred(pamh, PAM_ESTABLISH_CRED)));
	printf("result: %s\n", pam_name(r));
	pam_end(pamh, r);
	return 0;
}
