/* QR codes as PNG and SVG images, for mfactl enroll --qr png:|svg:.  Apart
 * from qr.c so that the module, which draws codes as text only, does not
 * link zlib. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dynload.h"
#include "qr.h"
#include "qr_image.h"

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
	struct qr_api qrapi;
	QRcode *qr;
	uint32_t side, be;
	size_t row, raw_len;
	uLongf packed_len;
	int r;

	r = qr_encode(text, &qrapi, &qr);
	if (r < 0)
		return r;
	side = (uint32_t)(qr->width + 2 * IMAGE_QUIET_ZONE) * PNG_SCALE;
	row = 1 + side; /* a filter byte, then one grey byte a pixel */
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
			line[1 + x] = qr_module_dark(qr, (int)(x / PNG_SCALE), (int)(y / PNG_SCALE),
						     IMAGE_QUIET_ZONE) ?
					      0 :
					      255;
	}
	if (compress2(packed, &packed_len, raw, (uLong)raw_len, 9) != Z_OK) {
		r = -EIO;
		goto out;
	}
	be = htonl(side);
	memcpy(ihdr, &be, 4);
	memcpy(ihdr + 4, &be, 4);
	ihdr[8] = 8; /* bit depth */
	ihdr[9] = 0; /* greyscale */
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
	qr_discard(&qrapi, qr);
	return r;
}

int qr_write_svg(const char *text, int fd)
{
	struct qr_api qrapi;
	QRcode *qr;
	char buf[160];
	int side, r, n;

	r = qr_encode(text, &qrapi, &qr);
	if (r < 0)
		return r;
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
			if (qr_module_dark(qr, x, y, IMAGE_QUIET_ZONE)) {
				n = snprintf(buf, sizeof(buf), "M%d %dh1v1h-1z", x, y);
				r = write_all(fd, buf, (size_t)n);
			}
	if (r == 0)
		r = write_all(fd, "\"/>\n</svg>\n", 11);
	explicit_bzero(buf, sizeof(buf));
	qr_discard(&qrapi, qr);
	return r;
}
