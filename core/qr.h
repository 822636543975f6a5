/* QR codes of otpauth:// URIs drawn as text for terminals and PAM
 * conversations. */
#ifndef PAM_MFA_QR_H
#define PAM_MFA_QR_H

#include <qrencode.h>
#include <stdbool.h>

enum qr_style {
	QR_STYLE_NONE,
	QR_STYLE_UTF8, /* half blocks, light modules drawn: for dark terminals */
	QR_STYLE_ANSI, /* half blocks with explicit black/white colours */
};

/* "none", "utf8", "ansi"; 0 or -EINVAL. */
int qr_style_parse(const char *name, enum qr_style *style);

/* Renders text as a QR code, one terminal line per two module rows, into a
 * new NUL-terminated string (the caller frees it).  0 or -errno. */
int qr_render_text(const char *text, enum qr_style style, char **out);

/* Whether the module at (x, y) of a code drawn with a quiet zone of that
 * many modules around it is dark; the zone is light. */
bool qr_module_dark(const QRcode *qr, int x, int y, int quiet_zone);

/* Encodes text (an otpauth:// URI: it holds the secret) through libqrencode,
 * loaded on first use, filling api; 0, -ENOENT (no libqrencode) or -errno.
 * qr_discard() wipes the code's modules and frees it. */
struct qr_api;
int qr_encode(const char *text, struct qr_api *api, QRcode **qr);
void qr_discard(const struct qr_api *api, QRcode *qr);

#endif
