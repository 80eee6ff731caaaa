/* AWS Signature Version 4 (header form) for one request.
 *
 * The gateway signs Bedrock requests itself rather than through libcurl's
 * CURLOPT_AWS_SIGV4: libcurl before 8.10 signs the path exactly as sent,
 * while every AWS service but S3 canonicalizes it URI-encoded once more
 * (a model id's ':' travels as %3A and is signed as %253A), so curl's
 * signatures fail for nearly every Bedrock model; curl 7.88 also signs
 * headers that were only removed ("Expect:"). */
#ifndef AIGW_SIGV4_H
#define AIGW_SIGV4_H

#include <stddef.h>
#include <time.h>

struct buf;

/* A header to sign: lowercase name; the value as sent. */
struct sigv4_header {
    const char *name;
    const char *value;
};

struct sigv4_req {
    const char *method;            /* "POST" */
    const char *path;              /* as sent (percent-encoded), "/..." */
    const char *query;             /* canonical query string, or "" */
    const struct sigv4_header *hdrs;
    size_t n_hdrs;                 /* at most SIGV4_MAX_HEADERS; host and
                                      x-amz-date must be among them */
    const void *payload;
    size_t payload_len;
    const char *amz_date;          /* "20150830T123600Z", see below */
    const char *region;            /* "us-east-1" */
    const char *service;           /* "bedrock" */
    const char *access_key_id;
    const char *secret;
};

#define SIGV4_MAX_HEADERS 16

/* Formats t as the x-amz-date value (ISO 8601 basic, UTC). */
void sigv4_amz_date(time_t t, char out[17]);
/* AWS's canonical URI for a path as sent: every byte but unreserved
 * characters and '/' percent-encoded (so "%3A" becomes "%253A"). */
void sigv4_canonical_uri(const char *path, struct buf *out);
/* Appends the Authorization header's value ("AWS4-HMAC-SHA256
 * Credential=..., SignedHeaders=..., Signature=...") to out. Returns 0,
 * or -1 on bad input. Intermediate secrets are wiped. */
int sigv4_authorization(const struct sigv4_req *r, struct buf *out);

#endif
