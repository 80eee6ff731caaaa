#include "../../fcgi/sigv4.c"
#include "t.h"

/* AWS's SigV4 test suite: get-vanilla and post-vanilla. */
static void test_vectors(void)
{
    struct sigv4_header h[] = {
        { "x-amz-date", "20150830T123600Z" },
        { "host", "example.amazonaws.com" },
    };
    struct sigv4_req r = {
        .method = "GET", .path = "/", .query = "", .hdrs = h, .n_hdrs = 2,
        .payload = "", .payload_len = 0, .amz_date = "20150830T123600Z",
        .region = "us-east-1", .service = "service",
        .access_key_id = "AKIDEXAMPLE",
        .secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    };
    struct buf out = BUF_INIT(4096);

    T_EQ_INT(sigv4_authorization(&r, &out), 0, "get-vanilla signs");
    T_EQ_STR(out.ptr, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
             "us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, "
             "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae"
             "1d763fbf31", "get-vanilla: AWS's signature (headers sorted)");
    buf_reset(&out);
    r.method = "POST";
    sigv4_authorization(&r, &out);
    T_OK(strstr(out.ptr, "Signature=5da7c1a2acd57cee7505fc6676e4e544621c308"
                "62966e37dddb68e92efbe5d6b") != NULL,
         "post-vanilla: AWS's signature");
    buf_reset(&out);
    r.amz_date = "2015";
    T_EQ_INT(sigv4_authorization(&r, &out), -1, "malformed date refused");
    r.amz_date = "20150830T123600Z";
    r.n_hdrs = 0;
    T_EQ_INT(sigv4_authorization(&r, &out), -1, "no headers refused");
    buf_release(&out);
}

static void test_canonical(void)
{
    struct buf b = BUF_INIT(4096);
    char d[17];

    sigv4_canonical_uri("/model/anthropic.claude-3-haiku-20240307-v1%3A0/"
                        "converse", &b);
    T_EQ_STR(b.ptr, "/model/anthropic.claude-3-haiku-20240307-v1%253A0/"
             "converse", "path encoded once more: %3A -> %253A");
    buf_reset(&b);
    sigv4_canonical_uri("/a b/~x_y-z.", &b);
    T_EQ_STR(b.ptr, "/a%20b/~x_y-z.", "unreserved kept, space encoded");
    buf_reset(&b);
    sigv4_canonical_uri("", &b);
    T_EQ_STR(b.ptr, "/", "empty path is /");
    buf_release(&b);
    sigv4_amz_date(1440938160, d);
    T_EQ_STR(d, "20150830T123600Z", "x-amz-date format");
}

static void test_trim(void)
{
    struct buf b = BUF_INIT(4096);

    add_trimmed(&b, "  a \t b   c  ");
    T_EQ_STR(b.ptr, "a b c", "header values trimmed and collapsed");
    buf_release(&b);
}

int main(void)
{
    test_vectors();
    test_canonical();
    test_trim();
    return t_done();
}
