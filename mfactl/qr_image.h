/* QR codes as PNG and SVG images: mfactl only (see qr_image.c). */
#ifndef PAM_MFA_QR_IMAGE_H
#define PAM_MFA_QR_IMAGE_H

/* Writes text as a QR code image to fd: a PNG (8 pixels a module) or an SVG
 * document, black on white with a 4-module quiet zone.  0 or -errno. */
int qr_write_png(const char *text, int fd);
int qr_write_svg(const char *text, int fd);

#endif
