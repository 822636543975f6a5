/* libcurl and libcrypto, loaded when a mail or a text message is sent or
 * a code is hashed, libqrencode when a QR code is drawn, and libpq when
 * the store is a PostgreSQL database, not with the module.
 * Linked in, they made every login's dlopen() of pam_mfa.so load some 40
 * libraries: 9 ms of each sshd connection (bench/RESULTS.md), for things
 * most logins never do. */
#ifndef PAM_MFA_DYNLOAD_H
#define PAM_MFA_DYNLOAD_H

#include <curl/curl.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <qrencode.h>
#include <stddef.h>

#include "util.h"

/* The sonames the build was made against (the headers' ABI). */
#define LIBCURL_SONAME "libcurl.so.4"
#define LIBCRYPTO_SONAME "libcrypto.so.3"
#define LIBQRENCODE_SONAME "libqrencode.so.4"
#define LIBPQ_SONAME "libpq.so.5"

/* The libcurl functions pam_mfa calls, by the names curl.h gives them. */
struct curl_api {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
};

/* Loads libcurl (it stays loaded) and fills api; 0, or -ENOENT with err
 * saying what is missing. */
int curl_api_load(struct curl_api *api, struct mfa_error *err);

struct qr_api {
	QRcode *(*encode_string)(const char *string, int version, QRecLevel level,
				 QRencodeMode hint, int casesensitive);
	void (*free)(QRcode *qrcode);
};

/* Loads libqrencode (it stays loaded) and fills api; 0 or -ENOENT. */
int qr_api_load(struct qr_api *api);

/* The libcrypto functions pam_mfa calls (code_hash.c). */
struct crypto_api {
	const EVP_MD *(*sha256)(void);
	unsigned char *(*hmac)(const EVP_MD *md, const void *key, int key_len,
			       const unsigned char *data, size_t len, unsigned char *md_out,
			       unsigned int *md_len);
};

/* Loads libcrypto (it stays loaded) and fills api; 0 or -ENOENT. */
int crypto_api_load(struct crypto_api *api);

/* The libpq functions the postgresql store calls (store/pg.c): a connect
 * and a call each bounded by poll(), parameters only as values. */
struct pq_api {
	PGconn *(*connect_start_params)(const char *const *keywords, const char *const *values,
					int expand_dbname);
	PostgresPollingStatusType (*connect_poll)(PGconn *conn);
	ConnStatusType (*status)(const PGconn *conn);
	int (*socket)(const PGconn *conn);
	char *(*error_message)(const PGconn *conn);
	void (*finish)(PGconn *conn);
	int (*set_nonblocking)(PGconn *conn, int arg);
	int (*send_query_params)(PGconn *conn, const char *command, int nParams,
				 const Oid *paramTypes, const char *const *paramValues,
				 const int *paramLengths, const int *paramFormats,
				 int resultFormat);
	/* The simple protocol, for mfactl db init's migration files only:
	 * several statements in one string, no parameters. */
	int (*send_query)(PGconn *conn, const char *command);
	PGTransactionStatusType (*transaction_status)(const PGconn *conn);
	int (*flush)(PGconn *conn);
	int (*consume_input)(PGconn *conn);
	int (*is_busy)(PGconn *conn);
	PGresult *(*get_result)(PGconn *conn);
	ExecStatusType (*result_status)(const PGresult *res);
	char *(*result_error_field)(const PGresult *res, int fieldcode);
	char *(*result_error_message)(const PGresult *res);
	int (*ntuples)(const PGresult *res);
	int (*nfields)(const PGresult *res);
	char *(*get_value)(const PGresult *res, int tup_num, int field_num);
	int (*get_is_null)(const PGresult *res, int tup_num, int field_num);
	void (*clear)(PGresult *res);
	/* Server notices go nowhere: libpq would print them to stderr, a
	 * daemon's log or a user's terminal. */
	PQnoticeProcessor (*set_notice_processor)(PGconn *conn, PQnoticeProcessor proc, void *arg);
	PQconninfoOption *(*conninfo_parse)(const char *conninfo, char **errmsg);
	void (*conninfo_free)(PQconninfoOption *options);
};

/* Loads libpq (it stays loaded) and fills api; 0, or -ENOENT with err
 * saying what is missing. */
int pq_api_load(struct pq_api *api, struct mfa_error *err);

#endif
