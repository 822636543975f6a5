/* libFuzzer: the configuration parser, through the real file checks: the
 * input is written to a root-owned 0600 file in a private directory. */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[PATH_MAX];

static void setup(void)
{
	char dir[PATH_MAX];
	const char *base = getenv("FUZZ_TMPDIR");

	(void)snprintf(dir, sizeof(dir), "%s/fuzz-config.XXXXXX", base ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	(void)snprintf(path, sizeof(path), "%s/pam_mfa.conf", dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mfa_config cfg;
	struct mfa_error err;
	int fd;

	if (path[0] == '\0')
		setup();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (config_load(path, &cfg, &err) == 0)
		config_free(&cfg);
	return 0;
}
