/* QR codes as terminal text over libqrencode; see qr.h.  Two module rows make
 * one line of upper/lower half blocks, so the code keeps its aspect ratio. */
#include <arpa/inet.h>
#include <errno.h>
#include <qrencode.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

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

static bool dark(const QRcode *qr, int x, int y)
{
	x -= QUIET_ZONE;
	y -= QUIET_ZONE;
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return false;
	return (qr->data[y * qr->width + x] & 1) != 0;
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
		" ", "\u2584", "\u2580", "\u2588",
	};
	QRcode *qr;
	char *buf, *p;
	int size;
	size_t per_cell, cap;

	*out = NULL;
	if (style == QR_STYLE_NONE) {
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	if (qr == NULL)
		return errno ? -errno : -EINVAL;
	size = qr->width + 2 * QUIET_ZONE;
	/* ansi: "\033[97;40m" + a 3-byte block per cell at most, + reset per line */
	per_cell = style == QR_STYLE_ANSI ? 16 : 3;
	cap = (size_t)((size + 1) / 2) * ((size_t)size * per_cell + 8) + 1;
	buf = malloc(cap);
	if (buf == NULL) {
		QRcode_free(qr);
		return -ENOMEM;
	}
	p = buf;
	for (int y = 0; y < size; y += 2) {
		for (int x = 0; x < size; x++) {
			bool top = !dark(qr, x, y);
			bool bottom = y + 1 < size ? !dark(qr, x, y + 1) : false;

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
	explicit_bzero(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
	*out = buf;
	return 0;
}

#define IMAGE_QUIET_ZONE 4
#define PNG_SCALE 8

static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static bool image_dark(const QRcode *qr, int x, int y)
{
	x -= IMAGE_QUIET_ZONE;
	y -= IMAGE_QUIET_ZONE;
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return false;
	return (qr->data[y * qr->width + x] & 1) != 0;
}

static int png_chunk(int fd, const char *type, const unsigned char *data, uint32_t len)
{
	uint32_t be_len = htonl(len), crc;
	int r;

	crc = (uint32_t)crc32(0, (const Bytef *)type, 4);
	/* crc32(crc, NULL, 0) is zlib's "initial value" call and returns 0,
	 * not crc: an empty chunk (IEND) must not go through it. */
	if (len > 0)
		crc = (uint32_t)crc32(crc, data, len);
	crc = htonl(crc);
	if ((r = write_all(fd, &be_len, 4)) < 0 || (r = write_all(fd, type, 4)) < 0 ||
	    (len > 0 && (r = write_all(fd, data, len)) < 0) || (r = write_all(fd, &crc, 4)) < 0)
		return r;
	return 0;
}

int qr_write_png(const char *text, int fd)
{
	static const unsigned char signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	unsigned char ihdr[13];
	unsigned char *raw = NULL, *packed = NULL;
	QRcode *qr;
	uint32_t side, be;
	size_t row, raw_len;
	uLongf packed_len;
	int r;

	qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	if (qr == NULL)
		return errno ? -errno : -EINVAL;
	side = (uint32_t)(qr->width + 2 * IMAGE_QUIET_ZONE) * PNG_SCALE;
	row = 1 + side;		/* a filter byte, then one grey byte a pixel */
	raw_len = row * side;
	raw = malloc(raw_len);
	packed_len = compressBound((uLong)raw_len);
	packed = malloc(packed_len);
	if (raw == NULL || packed == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t y = 0; y < side; y++) {
		unsigned char *line = raw + y * row;
		line[0] = 0;
		for (uint32_t x = 0; x < side; x++)
			line[1 + x] = image_dark(qr, (int)(x / PNG_SCALE), (int)(y / PNG_SCALE)) ? 0 : 255;
	}
	if (compress2(packed, &packed_len, raw, (uLong)raw_len, 9) != Z_OK) {
		r = -EIO;
		goto out;
	}
	be = htonl(side);
	memcpy(ihdr, &be, 4);
	memcpy(ihdr + 4, &be, 4);
	ihdr[8] = 8;	/* bit depth */
	ihdr[9] = 0;	/* greyscale */
	ihdr[10] = ihdr[11] = ihdr[12] = 0;
	if ((r = write_all(fd, signature, sizeof(signature))) < 0 ||
	    (r = png_chunk(fd, "IHDR", ihdr, sizeof(ihdr))) < 0 ||
	    (r = png_chunk(fd, "IDAT", packed, (uint32_t)packed_len)) < 0 ||
	    (r = png_chunk(fd, "IEND", NULL, 0)) < 0)
		goto out;
	r = 0;
out:
	/* The image encodes the secret. */
	if (raw != NULL)
		explicit_bzero(raw, raw_len);
	if (packed != NULL)
		explicit_bzero(packed, compressBound((uLong)raw_len));
	free(raw);
	free(packed);
	explicit_bzero(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
	return r;
}

int qr_write_svg(const char *text, int fd)
{
	QRcode *qr;
	char buf[160];
	int side, r, n;

	qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	if (qr == NULL)
		return errno ? -errno : -EINVAL;
	side = qr->width + 2 * IMAGE_QUIET_ZONE;
	n = snprintf(buf, sizeof(buf),
		     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
		     "width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">\n",
		     side, side, side * PNG_SCALE, side * PNG_SCALE);
	r = write_all(fd, buf, (size_t)n);
	if (r == 0) {
		n = snprintf(buf, sizeof(buf),
			     "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"",
			     side, side);
		r = write_all(fd, buf, (size_t)n);
	}
	for (int y = 0; r == 0 && y < side; y++)
		for (int x = 0; r == 0 && x < side; x++)
			if (image_dark(qr, x, y)) {
				n = snprintf(buf, sizeof(buf), "M%d %dh1v1h-1z", x, y);
				r = write_all(fd, buf, (size_t)n);
			}
	if (r == 0)
		r = write_all(fd, "\"/>\n</svg>\n", 11);
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
	return r;
}
