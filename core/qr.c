/* QR codes as terminal text over libqrencode; see qr.h.  Two module rows make
 * one line of upper/lower half blocks, so the code keeps its aspect ratio. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynload.h"
#include "qr.h"

#define QUIET_ZONE 2

int qr_style_parse(const char *name, enum qr_style *style)
{
	if (strcmp(name, "none") == 0)
		*style = QR_STYLE_NONE;
	else if (strcmp(name, "utf8") == 0)
		*style = QR_STYLE_UTF8;
	else if (strcmp(name, "ansi") == 0)
		*style = QR_STYLE_ANSI;
	else
		return -EINVAL;
	return 0;
}

bool qr_module_dark(const QRcode *qr, int x, int y, int quiet_zone)
{
	x -= quiet_zone;
	y -= quiet_zone;
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return false;
	return (qr->data[y * qr->width + x] & 1) != 0;
}

int qr_encode(const char *text, struct qr_api *api, QRcode **qr)
{
	if (qr_api_load(api) < 0)
		return -ENOENT;
	*qr = api->encode_string(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	if (*qr == NULL)
		return errno ? -errno : -EINVAL;
	return 0;
}

void qr_discard(const struct qr_api *api, QRcode *qr)
{
	explicit_bzero(qr->data, (size_t)qr->width * (size_t)qr->width);
	api->free(qr);
}

static void put(char **p, const char *s)
{
	size_t len = strlen(s);
	memcpy(*p, s, len);
	*p += len;
}

int qr_render_text(const char *text, enum qr_style style, char **out)
{
	static const char *const utf8_cells[4] = {
		/* index: top light << 1 | bottom light */
		" ",
		"\u2584",
		"\u2580",
		"\u2588",
	};
	struct qr_api qrapi;
	QRcode *qr;
	char *buf, *p;
	int size;
	size_t per_cell, cap;
	int r;

	*out = NULL;
	if (style == QR_STYLE_NONE) {
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	r = qr_encode(text, &qrapi, &qr);
	if (r < 0)
		return r;
	size = qr->width + 2 * QUIET_ZONE;
	/* ansi: "\033[97;40m" + a 3-byte block per cell at most, + reset per line */
	per_cell = style == QR_STYLE_ANSI ? 16 : 3;
	cap = (size_t)((size + 1) / 2) * ((size_t)size * per_cell + 8) + 1;
	buf = malloc(cap);
	if (buf == NULL) {
		qr_discard(&qrapi, qr);
		return -ENOMEM;
	}
	p = buf;
	for (int y = 0; y < size; y += 2) {
		for (int x = 0; x < size; x++) {
			bool top = !qr_module_dark(qr, x, y, QUIET_ZONE);
			bool bottom = y + 1 < size && !qr_module_dark(qr, x, y + 1, QUIET_ZONE);

			if (style == QR_STYLE_ANSI) {
				/* Foreground paints the upper half, background the lower. */
				put(&p, top ? "\033[97;" : "\033[30;");
				put(&p, bottom ? "107m" : "40m");
				put(&p, "\u2580");
			} else {
				put(&p, utf8_cells[(top ? 2 : 0) | (bottom ? 1 : 0)]);
			}
		}
		if (style == QR_STYLE_ANSI)
			put(&p, "\033[0m");
		put(&p, "\n");
	}
	*p = '\0';
	qr_discard(&qrapi, qr);
	*out = buf;
	return 0;
}
