/* Preloaded into the test's sshd only, after libasan: bindtextdomain() and
 * textdomain() that do nothing.  Under a preloaded libasan, libgcrypt's
 * constructor (sshd links it through libsystemd) leaves glibc's
 * _nl_state_lock with a reader count of -1 before sshd's main(), so the
 * first call that takes that lock for writing blocks for ever: libpq's
 * first message lookup, in pam_mfa's connect, in sshd's PAM child.  sshd
 * is not instrumented and not what is under test; the messages stay
 * untranslated (the tests run in the C locale anyway). */
#include <stddef.h>

char *bindtextdomain(const char *domainname, const char *dirname);
char *textdomain(const char *domainname);
char *bind_textdomain_codeset(const char *domainname, const char *codeset);

char *bindtextdomain(const char *domainname, const char *dirname)
{
	(void)domainname;
	return (char *)dirname;
}

char *textdomain(const char *domainname)
{
	return (char *)(domainname != NULL ? domainname : "messages");
}

char *bind_textdomain_codeset(const char *domainname, const char *codeset)
{
	(void)domainname;
	return (char *)codeset;
}
