/* Sends one text message with the core's sms_send(), as the module will:
 * for tests/unit/test_sms_gateway.py, which runs it against a real HTTPS
 * gateway on loopback.
 *
 * usage: sms_send_driver CONFIG NUMBER CODE [USER [HOST]]
 * Prints "sent" and exits 0, or prints "sms_send: ERRNO: MESSAGE" to
 * stderr and exits 1; a configuration that does not load exits 2. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "sms.h"

int main(int argc, char **argv)
{
	struct mfa_config cfg;
	struct mfa_error err = { "" };
	struct sms_message msg;
	int r;

	if (argc < 4 || argc > 6) {
		fprintf(stderr, "usage: sms_send_driver CONFIG NUMBER CODE [USER [HOST]]\n");
		return 2;
	}
	r = config_load(argv[1], &cfg, &err);
	if (r < 0) {
		fprintf(stderr, "config: %d: %s\n", r, err.msg);
		return 2;
	}
	msg.code = argv[3];
	msg.user = argc > 4 ? argv[4] : "alice";
	msg.host = argc > 5 ? argv[5] : "testhost";
	/* As a mail says it: rounded up. */
	msg.ttl_minutes = (cfg.sms.code_ttl + 59) / 60;
	r = sms_send(&cfg.sms, argv[2], &msg, &err);
	config_free(&cfg);
	if (r < 0) {
		fprintf(stderr, "sms_send: %d: %s\n", r, err.msg);
		return 1;
	}
	printf("sent\n");
	return 0;
}
