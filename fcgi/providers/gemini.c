/* Google Gemini (AI Studio, generativelanguage.googleapis.com), and the
 * Gemini generateContent dialect that vertex.c shares (gemini.h).
 *
 * Settings: base_url (default https://generativelanguage.googleapis.com/
 * v1beta), api_key (sent as x-goog-api-key). Chat goes to
 * {base_url}/models/{model}:generateContent or :streamGenerateContent?
 * alt=sse, embeddings to {base_url}/models/{model}:batchEmbedContents. */
#include "gemini.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../buf.h"
#include "../config.h"
#include "../jsonutil.h"
#include "../log.h"
#include "../sse.h"
#include "../usage.h"
#include "../xalloc.h"
#include "oai.h"
#include "provider.h"

#define GEMINI_BASE_URL "https://generativelanguage.googleapis.com/v1beta"
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define TEXT_MAX ((size_t)1 << 30)

/* --- shared helpers ---------------------------------------------------- */

struct gemini_st *gemini_state(struct provider_call *c)
{
    if (c->st == NULL)
        c->st = xcalloc(1, sizeof(struct gemini_st));
    return c->st;
}

void gemini_finish(struct provider_call *c)
{
    free(c->st);
    c->st = NULL;
}

int gemini_model_ok(const char *model)
{
    if (model == NULL || *model == '\0')
        return 0;
    for (const char *p = model; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || strchr("._@-", *p) != NULL))
            return 0;
    return 1;
}

/* A message for the client in c->scratch; returns -1. */
static int fail(struct provider_call *c, const char *fmt, ...)
    GW_PRINTF(2, 3);

static int fail(struct provider_call *c, const char *fmt, ...)
{
    char m[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    buf_reset(c->scratch);
    buf_adds(c->scratch, m);
    return -1;
}

static json_object *member(json_object *o, const char *k)
{
    json_object *v;

    if (o == NULL || !json_object_object_get_ex(o, k, &v) ||
        json_object_is_type(v, json_type_null))
        return NULL;
    return v;
}

static json_object *array_member(json_object *o, const char *k)
{
    json_object *v = member(o, k);

    return v != NULL && json_object_is_type(v, json_type_array) ? v : NULL;
}

/* {key: val}; val consumed. */
static json_object *wrap(const char *key, json_object *val)
{
    json_object *o = json_object_new_object();

    jadd(o, key, val);
    return o;
}

/* [val]; val consumed. */
static json_object *wrap_array(json_object *val)
{
    json_object *a = json_object_new_array();

    if (val != NULL)
        json_object_array_add(a, val);
    return a;
}

static json_object *text_part(const char *s, size_t n)
{
    return wrap("text", json_object_new_string_len(s, (int)n));
}

/* --- request: messages ------------------------------------------------- */

/* Appends a {"role","parts"} content, merged into the previous content
 * when that has the same role (Gemini wants alternating turns). parts is
 * consumed. */
static void add_content(json_object *contents, const char *role,
                        json_object *parts)
{
    size_t n = json_object_array_length(contents);
    json_object *last, *lp, *o;
    const char *lr;

    if (json_object_array_length(parts) == 0) {
        json_object_put(parts);
        return;
    }
    last = n > 0 ? json_object_array_get_idx(contents, n - 1) : NULL;
    lr = jget_str(last, "role");
    if (lr != NULL && strcmp(lr, role) == 0 &&
        (lp = array_member(last, "parts")) != NULL) {
        for (size_t i = 0; i < json_object_array_length(parts); i++)
            json_object_array_add(lp, json_object_get(
                                          json_object_array_get_idx(parts,
                                                                    i)));
        json_object_put(parts);
        return;
    }
    o = json_object_new_object();
    jadd(o, "role", json_object_new_string(role));
    jadd(o, "parts", parts);
    json_object_array_add(contents, o);
}

/* A base64 data: URL as {"inlineData":{"mimeType","data"}}. */
static int data_url_part(struct provider_call *c, json_object *parts,
                         const char *url)
{
    const char *mime = url + 5, *comma = strchr(mime, ','), *end;
    json_object *d;

    if (comma == NULL || comma - mime < 7 ||
        memcmp(comma - 7, ";base64", 7) != 0)
        return fail(c, "data URLs must be base64-encoded "
                       "(data:<type>;base64,...)");
    end = mime;
    while (end < comma && *end != ';')
        end++;
    if (end == mime)
        return fail(c, "data URLs must name a media type");
    d = json_object_new_object();
    jadd(d, "mimeType", json_object_new_string_len(mime, (int)(end - mime)));
    jadd(d, "data", json_object_new_string(comma + 1));
    json_object_array_add(parts, wrap("inlineData", d));
    return 0;
}

/* The media type of a URL from its extension; image/jpeg when unknown. */
static const char *guess_mime(const char *url)
{
    static const char *const map[][2] = {
        { ".png", "image/png" },   { ".jpg", "image/jpeg" },
        { ".jpeg", "image/jpeg" }, { ".gif", "image/gif" },
        { ".webp", "image/webp" }, { ".heic", "image/heic" },
        { ".heif", "image/heif" }, { ".pdf", "application/pdf" },
    };
    size_t n = strcspn(url, "?#");

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        size_t k = strlen(map[i][0]);

        if (n > k && strncasecmp(url + n - k, map[i][0], k) == 0)
            return map[i][1];
    }
    return "image/jpeg";
}

static int url_part(struct provider_call *c, json_object *parts,
                    const char *url)
{
    json_object *d;

    if (url == NULL)
        return fail(c, "image_url.url must be a string");
    if (strncmp(url, "data:", 5) == 0)
        return data_url_part(c, parts, url);
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return fail(c, "image URLs must be data: or http(s) URLs");
    d = json_object_new_object();
    jadd(d, "mimeType", json_object_new_string(guess_mime(url)));
    jadd(d, "fileUri", json_object_new_string(url));
    json_object_array_add(parts, wrap("fileData", d));
    return 0;
}

static int audio_part(struct provider_call *c, json_object *parts,
                      json_object *audio)
{
    const char *data = jget_str(audio, "data"), *fmt = jget_str(audio,
                                                                "format");
    char mime[64];
    json_object *d;

    if (data == NULL || fmt == NULL || strlen(fmt) > 32)
        return fail(c, "input_audio needs data and format");
    snprintf(mime, sizeof(mime), "audio/%s", fmt);
    d = json_object_new_object();
    jadd(d, "mimeType", json_object_new_string(mime));
    jadd(d, "data", json_object_new_string(data));
    json_object_array_add(parts, wrap("inlineData", d));
    return 0;
}

static int content_part(struct provider_call *c, json_object *parts,
                        json_object *part)
{
    const char *type = jget_str(part, "type");
    json_object *v;

    if (type == NULL)
        return fail(c, "content parts must have a type");
    if (strcmp(type, "text") == 0) {
        if ((v = member(part, "text")) == NULL ||
            !json_object_is_type(v, json_type_string))
            return fail(c, "text parts need a text string");
        json_object_array_add(parts, text_part(json_object_get_string(v),
                              (size_t)json_object_get_string_len(v)));
        return 0;
    }
    if (strcmp(type, "image_url") == 0) {
        v = member(part, "image_url");
        return url_part(c, parts, json_object_is_type(v, json_type_string)
                                  ? json_object_get_string(v)
                                  : jget_str(v, "url"));
    }
    if (strcmp(type, "input_audio") == 0)
        return audio_part(c, parts, member(part, "input_audio"));
    if (strcmp(type, "file") == 0) {
        const char *fd = jget_str(member(part, "file"), "file_data");

        if (fd == NULL || strncmp(fd, "data:", 5) != 0)
            return fail(c, "file parts need file_data as a data: URL");
        return data_url_part(c, parts, fd);
    }
    return fail(c, "content parts of type `%.64s` are not supported by "
                   "this provider", type);
}

static int user_message(struct provider_call *c, json_object *m,
                        json_object *contents)
{
    json_object *content = member(m, "content"), *parts;
    size_t n;

    parts = json_object_new_array();
    if (content == NULL) {
        /* nothing to add */
    } else if (json_object_is_type(content, json_type_string)) {
        json_object_array_add(parts, text_part(
                                  json_object_get_string(content),
                                  (size_t)json_object_get_string_len(
                                      content)));
    } else if (json_object_is_type(content, json_type_array)) {
        n = json_object_array_length(content);
        for (size_t i = 0; i < n; i++)
            if (content_part(c, parts,
                             json_object_array_get_idx(content, i)) < 0) {
                json_object_put(parts);
                return -1;
            }
    } else {
        json_object_put(parts);
        return fail(c, "message content must be a string or an array");
    }
    add_content(contents, "user", parts);
    return 0;
}

/* {"functionCall":{"name","args"}} from an OpenAI tool call. */
static int function_call_part(struct provider_call *c, json_object *parts,
                              json_object *tc)
{
    json_object *fn = member(tc, "function"), *args, *fc;
    const char *name = jget_str(fn, "name"), *a = jget_str(fn, "arguments");

    if (name == NULL)
        return fail(c, "tool_calls need function.name");
    if (a == NULL || a[strspn(a, " \t\r\n")] == '\0')
        args = json_object_new_object();
    else
        args = jparse(a, strlen(a), NULL);
    if (args == NULL || !json_object_is_type(args, json_type_object)) {
        json_object_put(args);
        return fail(c, "tool call `%.64s`: arguments must be a JSON object",
                    name);
    }
    fc = json_object_new_object();
    jadd(fc, "name", json_object_new_string(name));
    jadd(fc, "args", args);
    json_object_array_add(parts, wrap("functionCall", fc));
    return 0;
}

static int assistant_message(struct provider_call *c, json_object *m,
                             json_object *contents)
{
    json_object *parts = json_object_new_array(), *calls;
    struct buf *t = c->scratch;

    buf_reset(t);
    if (oai_content_text(member(m, "content"), t) < 0) {
        json_object_put(parts);
        return fail(c, "assistant content must be a string or text parts");
    }
    if (t->len > 0)
        json_object_array_add(parts, text_part(t->ptr, t->len));
    if ((calls = array_member(m, "tool_calls")) != NULL)
        for (size_t i = 0; i < json_object_array_length(calls); i++)
            if (function_call_part(c, parts,
                                   json_object_array_get_idx(calls, i)) < 0) {
                json_object_put(parts);
                return -1;
            }
    add_content(contents, "model", parts);
    return 0;
}

/* The function name of tool call id in the messages before upto. */
static const char *tool_call_name(json_object *msgs, size_t upto,
                                  const char *id)
{
    for (size_t i = 0; i < upto; i++) {
        json_object *calls = array_member(json_object_array_get_idx(msgs, i),
                                          "tool_calls");

        for (size_t k = 0; calls && k < json_object_array_length(calls);
             k++) {
            json_object *tc = json_object_array_get_idx(calls, k);
            const char *tid = jget_str(tc, "id");

            if (tid != NULL && strcmp(tid, id) == 0)
                return jget_str(member(tc, "function"), "name");
        }
    }
    return NULL;
}

/* A tool result as {"functionResponse":{"name","response":{"content"}}}
 * in a user turn. */
static int tool_message(struct provider_call *c, json_object *msgs,
                        size_t i, json_object *m, json_object *contents)
{
    const char *id = jget_str(m, "tool_call_id"), *name = NULL;
    struct buf *t = c->scratch;
    json_object *val, *fr, *parts;

    if (id != NULL)
        name = tool_call_name(msgs, i, id);
    if (name == NULL)
        name = jget_str(m, "name");     /* the legacy "function" role */
    if (name == NULL)
        return fail(c, "messages[%zu]: tool_call_id does not match a tool "
                       "call of an earlier assistant message", i);
    buf_reset(t);
    if (oai_content_text(member(m, "content"), t) < 0 || buf_error(t))
        return fail(c, "messages[%zu]: content must be text", i);
    val = t->len > 0 ? jparse(t->ptr, t->len, NULL) : NULL;
    if (val == NULL)
        val = json_object_new_string_len(t->ptr ? t->ptr : "", (int)t->len);
    fr = json_object_new_object();
    jadd(fr, "name", json_object_new_string(name));
    jadd(fr, "response", wrap("content", val));
    parts = json_object_new_array();
    json_object_array_add(parts, wrap("functionResponse", fr));
    add_content(contents, "user", parts);
    return 0;
}

static int system_message(struct provider_call *c, json_object *m,
                          json_object *sys)
{
    struct buf *t = c->scratch;

    buf_reset(t);
    if (oai_content_text(member(m, "content"), t) < 0 || buf_error(t))
        return fail(c, "system content must be a string or text parts");
    if (t->len > 0)
        json_object_array_add(sys, text_part(t->ptr, t->len));
    return 0;
}

static int one_message(struct provider_call *c, json_object *msgs, size_t i,
                       json_object *contents, json_object *sys)
{
    json_object *m = json_object_array_get_idx(msgs, i);
    const char *role = jget_str(m, "role");

    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
        return system_message(c, m, sys);
    if (strcmp(role, "user") == 0)
        return user_message(c, m, contents);
    if (strcmp(role, "assistant") == 0)
        return assistant_message(c, m, contents);
    if (strcmp(role, "tool") == 0 || strcmp(role, "function") == 0)
        return tool_message(c, msgs, i, m, contents);
    return fail(c, "messages[%zu]: unsupported role `%.32s`", i, role);
}

/* contents and systemInstruction. */
static int add_messages(struct provider_call *c, json_object *root)
{
    json_object *msgs = array_member(c->req, "messages");
    json_object *contents = json_object_new_array();
    json_object *sys = json_object_new_array();

    jadd(root, "contents", contents);
    jadd(root, "systemInstruction", wrap("parts", sys));
    for (size_t i = 0; msgs && i < json_object_array_length(msgs); i++)
        if (one_message(c, msgs, i, contents, sys) < 0)
            return -1;
    if (json_object_array_length(sys) == 0)
        json_object_object_del(root, "systemInstruction");
    if (json_object_array_length(contents) == 0)
        return fail(c, "at least one user or assistant message is needed");
    return 0;
}

/* --- request: generation config and tools ------------------------------ */

static void copy_num(json_object *from, const char *k, json_object *to,
                     const char *tk)
{
    json_object *v = member(from, k);

    if (v != NULL && (json_object_is_type(v, json_type_int) ||
                      json_object_is_type(v, json_type_double)))
        jadd(to, tk, json_object_get(v));
}

static json_object *clean_schema(json_object *s);

static int add_stop(struct provider_call *c, json_object *gc)
{
    json_object *stop = member(c->req, "stop"), *seqs;

    if (stop == NULL)
        return 0;
    seqs = json_object_new_array();
    jadd(gc, "stopSequences", seqs);
    if (json_object_is_type(stop, json_type_string)) {
        json_object_array_add(seqs, json_object_get(stop));
        return 0;
    }
    if (!json_object_is_type(stop, json_type_array))
        return fail(c, "stop must be a string or an array of strings");
    for (size_t i = 0; i < json_object_array_length(stop); i++) {
        json_object *s = json_object_array_get_idx(stop, i);

        if (!json_object_is_type(s, json_type_string))
            return fail(c, "stop must be a string or an array of strings");
        json_object_array_add(seqs, json_object_get(s));
    }
    return 0;
}

static void add_response_format(struct provider_call *c, json_object *gc)
{
    json_object *rf = member(c->req, "response_format"), *schema;
    const char *type = jget_str(rf, "type");

    if (type == NULL || strcmp(type, "text") == 0)
        return;
    jadd(gc, "responseMimeType", json_object_new_string("application/json"));
    schema = clean_schema(member(member(rf, "json_schema"), "schema"));
    if (strcmp(type, "json_schema") == 0 && schema != NULL)
        jadd(gc, "responseSchema", schema);
    else
        json_object_put(schema);
}

static int add_gen_config(struct provider_call *c, json_object *root)
{
    json_object *gc = json_object_new_object();
    long long mt = oai_max_tokens(c->req, -1);

    jadd(root, "generationConfig", gc);
    if (mt > 0)
        jadd(gc, "maxOutputTokens", json_object_new_int64(mt));
    copy_num(c->req, "temperature", gc, "temperature");
    copy_num(c->req, "top_p", gc, "topP");
    copy_num(c->req, "n", gc, "candidateCount");
    copy_num(c->req, "presence_penalty", gc, "presencePenalty");
    copy_num(c->req, "frequency_penalty", gc, "frequencyPenalty");
    copy_num(c->req, "seed", gc, "seed");
    if (add_stop(c, gc) < 0)
        return -1;
    add_response_format(c, gc);
    if (json_object_object_length(gc) == 0)
        json_object_object_del(root, "generationConfig");
    return 0;
}

/* Schema keys Gemini's OpenAPI subset accepts as they are. */
static int schema_key_kept(const char *k)
{
    static const char *const keep[] = {
        "title", "description", "nullable", "enum", "maxItems",
        "minItems", "required", "minProperties", "maxProperties",
        "minLength", "maxLength", "pattern", "example", "propertyOrdering",
        "default", "minimum", "maximum",
    };

    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (strcmp(k, keep[i]) == 0)
            return 1;
    return 0;
}

/* "type": a name, or JSON Schema's ["string","null"] as type+nullable. */
static void schema_type(json_object *v, json_object *o)
{
    if (json_object_is_type(v, json_type_string)) {
        jadd(o, "type", json_object_get(v));
        return;
    }
    if (!json_object_is_type(v, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        const char *t = json_object_get_string(json_object_array_get_idx(v,
                                                                         i));

        if (t != NULL && strcmp(t, "null") == 0)
            jadd(o, "nullable", json_object_new_boolean(1));
        else if (t != NULL && !json_object_object_get_ex(o, "type", NULL))
            jadd(o, "type", json_object_new_string(t));
    }
}

static void schema_props(json_object *v, json_object *o)
{
    json_object *props = json_object_new_object();

    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, pk, pv) {
            json_object *s = clean_schema(pv);

            if (s != NULL)
                jadd(props, pk, s);
        }
    }
    if (json_object_object_length(props) > 0)
        jadd(o, "properties", props);
    else
        json_object_put(props);
}

static void schema_any_of(json_object *v, json_object *o)
{
    json_object *arr = json_object_new_array();

    for (size_t i = 0; json_object_is_type(v, json_type_array) &&
                       i < json_object_array_length(v); i++) {
        json_object *s = clean_schema(json_object_array_get_idx(v, i));

        if (s != NULL)
            json_object_array_add(arr, s);
    }
    if (json_object_array_length(arr) > 0)
        jadd(o, "anyOf", arr);
    else
        json_object_put(arr);
}

static int format_ok(json_object *v)
{
    static const char *const ok[] = { "enum", "date-time", "int32", "int64",
                                      "float", "double" };
    const char *f = json_object_get_string(v);

    for (size_t i = 0; f && i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(f, ok[i]) == 0)
            return 1;
    return 0;
}

/* A copy of a JSON Schema reduced to what Gemini accepts (it rejects
 * "$schema", "additionalProperties", most "format"s...). NULL when s is
 * not an object. Caller puts. */
static json_object *clean_schema(json_object *s)
{
    json_object *o;

    if (s == NULL || !json_object_is_type(s, json_type_object))
        return NULL;
    o = json_object_new_object();
    json_object_object_foreach(s, k, v) {
        if (strcmp(k, "type") == 0)
            schema_type(v, o);
        else if (strcmp(k, "properties") == 0)
            schema_props(v, o);
        else if (strcmp(k, "items") == 0)
            jadd(o, "items", clean_schema(v));
        else if (strcmp(k, "anyOf") == 0 || strcmp(k, "oneOf") == 0)
            schema_any_of(v, o);
        else if (strcmp(k, "format") == 0 && format_ok(v))
            jadd(o, "format", json_object_get(v));
        else if (strcmp(k, "const") == 0 &&
                 json_object_is_type(v, json_type_string))
            jadd(o, "enum", wrap_array(json_object_get(v)));
        else if (schema_key_kept(k))
            jadd(o, k, json_object_get(v));
    }
    return o;
}

static json_object *declaration(struct provider_call *c, json_object *t)
{
    json_object *fn = member(t, "function"), *d, *params;
    const char *type = jget_str(t, "type"), *name = jget_str(fn, "name");
    const char *desc = jget_str(fn, "description");

    if ((type != NULL && strcmp(type, "function") != 0) || name == NULL) {
        fail(c, "only tools of type function (with a name) are supported "
                "by this provider");
        return NULL;
    }
    d = json_object_new_object();
    jadd(d, "name", json_object_new_string(name));
    if (desc != NULL)
        jadd(d, "description", json_object_new_string(desc));
    /* an OBJECT without properties is rejected: leave parameters out */
    params = clean_schema(member(fn, "parameters"));
    if (params != NULL && json_object_object_get_ex(params, "properties",
                                                    NULL))
        jadd(d, "parameters", params);
    else
        json_object_put(params);
    return d;
}

static int add_tool_config(struct provider_call *c, json_object *root)
{
    json_object *tc = member(c->req, "tool_choice"), *fcc, *names = NULL;
    const char *mode = NULL, *s, *fname;

    if (tc == NULL)
        return 0;
    if (json_object_is_type(tc, json_type_string)) {
        s = json_object_get_string(tc);
        mode = strcmp(s, "none") == 0 ? "NONE"
             : strcmp(s, "auto") == 0 ? "AUTO"
             : strcmp(s, "required") == 0 ? "ANY" : NULL;
    } else if ((fname = jget_str(member(tc, "function"), "name")) != NULL) {
        mode = "ANY";
        names = wrap_array(json_object_new_string(fname));
    }
    if (mode == NULL)
        return fail(c, "tool_choice must be none, auto, required or "
                       "{\"type\":\"function\",\"function\":{\"name\"}}");
    fcc = json_object_new_object();
    jadd(fcc, "mode", json_object_new_string(mode));
    if (names != NULL)
        jadd(fcc, "allowedFunctionNames", names);
    jadd(root, "toolConfig", wrap("functionCallingConfig", fcc));
    return 0;
}

static int add_tools(struct provider_call *c, json_object *root)
{
    json_object *tools = array_member(c->req, "tools"), *decls;

    if (tools == NULL || json_object_array_length(tools) == 0)
        return 0;
    decls = json_object_new_array();
    jadd(root, "tools", wrap_array(wrap("functionDeclarations", decls)));
    for (size_t i = 0; i < json_object_array_length(tools); i++) {
        json_object *d = declaration(c, json_object_array_get_idx(tools, i));

        if (d == NULL)
            return -1;
        json_object_array_add(decls, d);
    }
    return add_tool_config(c, root);
}

static int write_body(struct provider_call *c, json_object *root)
{
    buf_adds(c->body, json_object_to_json_string_ext(root, JSON_FLAGS));
    if (buf_error(c->body))
        return fail(c, "the translated request is too large");
    return 0;
}

int gemini_chat_body(struct provider_call *c)
{
    json_object *root = json_object_new_object();
    int rc = -1;

    if (add_messages(c, root) == 0 && add_gen_config(c, root) == 0 &&
        add_tools(c, root) == 0)
        rc = write_body(c, root);
    json_object_put(root);
    return rc;
}

static json_object *embed_request(const char *model, json_object *text,
                                  long long dims)
{
    json_object *r = json_object_new_object(), *parts;
    char m[160];

    snprintf(m, sizeof(m), "models/%s", model);
    jadd(r, "model", json_object_new_string(m));
    parts = wrap_array(wrap("text", json_object_get(text)));
    jadd(r, "content", wrap("parts", parts));
    if (dims > 0)
        jadd(r, "outputDimensionality", json_object_new_int64(dims));
    return r;
}

int gemini_embed_body(struct provider_call *c)
{
    json_object *in = member(c->req, "input"), *root, *reqs;
    long long dims = jget_int(c->req, "dimensions", -1);
    size_t n;
    int rc = -1;

    root = json_object_new_object();
    reqs = json_object_new_array();
    jadd(root, "requests", reqs);
    if (in != NULL && json_object_is_type(in, json_type_string)) {
        json_object_array_add(reqs, embed_request(c->model, in, dims));
    } else {
        n = in != NULL && json_object_is_type(in, json_type_array)
            ? json_object_array_length(in) : 0;
        for (size_t i = 0; i < n; i++) {
            json_object *s = json_object_array_get_idx(in, i);

            if (!json_object_is_type(s, json_type_string)) {
                fail(c, "this provider embeds text only: input must be a "
                        "string or an array of strings");
                goto out;
            }
            json_object_array_add(reqs, embed_request(c->model, s, dims));
        }
    }
    rc = write_body(c, root);
out:
    json_object_put(root);
    return rc;
}

/* Vertex AI's text-embedding models: {base}/...:predict with
 * {"instances":[{"content":..}],"parameters":{"outputDimensionality":N}}. */
int gemini_vertex_embed_body(struct provider_call *c)
{
    json_object *in = member(c->req, "input"), *root, *inst;
    long long dims = jget_int(c->req, "dimensions", -1);
    size_t n = 1;
    int rc = -1;

    root = json_object_new_object();
    inst = json_object_new_array();
    jadd(root, "instances", inst);
    if (in != NULL && json_object_is_type(in, json_type_array))
        n = json_object_array_length(in);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_is_type(in, json_type_array)
                         ? json_object_array_get_idx(in, i) : in;

        if (s == NULL || !json_object_is_type(s, json_type_string)) {
            fail(c, "this provider embeds text only: input must be a "
                    "string or an array of strings");
            goto out;
        }
        json_object_array_add(inst, wrap("content", json_object_get(s)));
    }
    if (dims > 0)
        jadd(root, "parameters", wrap("outputDimensionality",
                                      json_object_new_int64(dims)));
    rc = write_body(c, root);
out:
    json_object_put(root);
    return rc;
}

/* --- replies ----------------------------------------------------------- */

/* usageMetadata: prompt (+ tool-use prompt) tokens in, candidates +
 * thoughts tokens out, cached content tokens. Absent: ev untouched. */
static void read_usage(json_object *root, struct usage_event *ev)
{
    json_object *um = member(root, "usageMetadata");

    if (um == NULL || !json_object_is_type(um, json_type_object))
        return;
    oai_set_usage(ev, jget_int(um, "promptTokenCount", 0) +
                      jget_int(um, "toolUsePromptTokenCount", 0),
                  jget_int(um, "candidatesTokenCount", 0) +
                      jget_int(um, "thoughtsTokenCount", 0),
                  jget_int(um, "cachedContentTokenCount", 0));
}

/* The served model: modelVersion when reported, else the model asked. */
static void read_model(struct provider_call *c, json_object *root)
{
    const char *m = jget_str(root, "modelVersion");

    if (c->ev->served_model[0] != '\0')
        return;
    usage_set(c->ev->served_model, sizeof(c->ev->served_model),
              m != NULL && *m != '\0' ? m : c->model);
}

static json_object *first_candidate(json_object *root)
{
    json_object *cands = array_member(root, "candidates");

    return cands != NULL && json_object_array_length(cands) > 0
           ? json_object_array_get_idx(cands, 0) : NULL;
}

static json_object *candidate_parts(json_object *cand)
{
    return array_member(member(cand, "content"), "parts");
}

/* OpenAI's finish_reason for Gemini's finishReason. */
static const char *map_finish(const char *fr, int has_tool_calls)
{
    static const char *const filtered[] = {
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
        "IMAGE_SAFETY",
    };

    if (fr != NULL && strcmp(fr, "MAX_TOKENS") == 0)
        return "length";
    for (size_t i = 0; fr && i < sizeof(filtered) / sizeof(filtered[0]);
         i++)
        if (strcmp(fr, filtered[i]) == 0)
            return "content_filter";
    return has_tool_calls ? "tool_calls" : "stop";
}

/* The candidate's finishReason, or BLOCKED when the prompt was blocked
 * (no candidate); NULL while the reply goes on. */
static const char *finish_of(json_object *root, json_object *cand)
{
    const char *fr = jget_str(cand, "finishReason");

    if (fr == NULL && cand == NULL &&
        jget_str(member(root, "promptFeedback"), "blockReason") != NULL)
        return "SAFETY";
    return fr;
}

/* "call_<request id>_<n>", or the provider's own id. */
static void call_id(struct provider_call *c, json_object *fc, int n,
                    char *out, size_t outsz)
{
    const char *id = jget_str(fc, "id");

    if (id != NULL && *id != '\0' && strlen(id) < outsz)
        snprintf(out, outsz, "%s", id);
    else
        snprintf(out, outsz, "call_%s_%d", c->request_id, n);
}

static const char *args_json(json_object *fc)
{
    json_object *args = member(fc, "args");

    return args != NULL ? json_object_to_json_string_ext(args, JSON_FLAGS)
                        : "{}";
}

/* An OpenAI tool call object for a functionCall part. */
static json_object *tool_call(struct provider_call *c, json_object *fc,
                              int n)
{
    json_object *tc = json_object_new_object(), *fn;
    const char *name = jget_str(fc, "name");
    char id[160];

    call_id(c, fc, n, id, sizeof(id));
    jadd(tc, "id", json_object_new_string(id));
    jadd(tc, "type", json_object_new_string("function"));
    fn = json_object_new_object();
    jadd(fn, "name", json_object_new_string(name ? name : ""));
    jadd(fn, "arguments", json_object_new_string(args_json(fc)));
    jadd(tc, "function", fn);
    return tc;
}

/* Whether a part is model text for the client (not a thought summary). */
static json_object *answer_text(json_object *part)
{
    json_object *t = member(part, "text"), *th = member(part, "thought");

    if (t == NULL || !json_object_is_type(t, json_type_string) ||
        (th != NULL && json_object_get_boolean(th)))
        return NULL;
    return t;
}

static int chat_reply(struct provider_call *c, json_object *root,
                      struct buf *out)
{
    json_object *cand = first_candidate(root), *parts, *msg, *calls;
    struct buf text = BUF_INIT(TEXT_MAX);
    int n = 0, rc = 0;

    read_usage(root, c->ev);
    parts = candidate_parts(cand);
    calls = json_object_new_array();
    for (size_t i = 0; parts && i < json_object_array_length(parts); i++) {
        json_object *p = json_object_array_get_idx(parts, i), *t, *fc;

        if ((t = answer_text(p)) != NULL)
            buf_add(&text, json_object_get_string(t),
                    (size_t)json_object_get_string_len(t));
        else if ((fc = member(p, "functionCall")) != NULL)
            json_object_array_add(calls, tool_call(c, fc, n++));
    }
    msg = json_object_new_object();
    jadd(msg, "role", json_object_new_string("assistant"));
    /* content is null when the reply is only tool calls */
    json_object_object_add(msg, "content", n > 0 && text.len == 0 ? NULL
                           : json_object_new_string_len(
                                 text.ptr ? text.ptr : "", (int)text.len));
    if (n > 0)
        jadd(msg, "tool_calls", json_object_get(calls));
    json_object_object_add(msg, "refusal", NULL);
    if (buf_error(&text))
        rc = -1;
    else
        oai_completion(out, c->request_id, c->ev->served_model, msg,
                       map_finish(finish_of(root, cand), n > 0), c->ev);
    json_object_put(msg);
    json_object_put(calls);
    buf_release(&text);
    return rc;
}

/* The vector as OpenAI's base64 form: little-endian float32s. */
static void add_base64_floats(struct buf *out, json_object *values)
{
    size_t n = json_object_array_length(values);
    unsigned char *raw = xmalloc(n * 4 + 1), *enc;

    for (size_t i = 0; i < n; i++) {
        float f = (float)json_object_get_double(
            json_object_array_get_idx(values, i));
        uint32_t u;

        memcpy(&u, &f, 4);
        for (int k = 0; k < 4; k++)
            raw[i * 4 + (size_t)k] = (unsigned char)(u >> (8 * k));
    }
    enc = xmalloc(4 * ((n * 4 + 2) / 3) + 1);
    EVP_EncodeBlock(enc, raw, (int)(n * 4));
    buf_addc(out, '"');
    buf_adds(out, (const char *)enc);
    buf_addc(out, '"');
    free(enc);
    free(raw);
}

/* {"embeddings":[{"values":[...]}]} as OpenAI's embeddings list. Gemini
 * reports no usage for embeddings; when it does, it is taken. */
static int embed_list(struct provider_call *c, json_object *root,
                      json_object *embs, int b64, struct buf *out);

/* Vertex's predictions[i].embeddings {values, statistics.token_count}:
 * the vectors in Gemini's {"values"} shape into *embs (caller puts), the
 * summed token counts as usage. */
static json_object *vertex_predictions(struct provider_call *c,
                                       json_object *preds)
{
    json_object *embs = json_object_new_array();
    long long tokens = 0;

    for (size_t i = 0; i < json_object_array_length(preds); i++) {
        json_object *e = member(json_object_array_get_idx(preds, i),
                                "embeddings");
        json_object *v = array_member(e, "values");

        if (v == NULL) {
            json_object_put(embs);
            return NULL;
        }
        tokens += jget_int(member(e, "statistics"), "token_count", 0);
        json_object_array_add(embs, wrap("values", json_object_get(v)));
    }
    oai_set_usage(c->ev, tokens, 0, 0);
    return embs;
}

static int embed_reply(struct provider_call *c, json_object *root,
                       struct buf *out)
{
    json_object *preds = array_member(root, "predictions"), *owned = NULL;
    json_object *embs = array_member(root, "embeddings");
    const char *fmt = jget_str(c->req, "encoding_format");
    int b64 = fmt != NULL && strcmp(fmt, "base64") == 0;
    int rc;

    if (preds != NULL && (owned = embs = vertex_predictions(c, preds)) ==
                         NULL)
        return -1;
    rc = embed_list(c, root, embs, b64, out);
    json_object_put(owned);
    return rc;
}

static int embed_list(struct provider_call *c, json_object *root,
                      json_object *embs, int b64, struct buf *out)
{
    if (embs == NULL)
        return -1;
    read_usage(root, c->ev);
    usage_set(c->ev->served_model, sizeof(c->ev->served_model), c->model);
    buf_adds(out, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < json_object_array_length(embs); i++) {
        json_object *v = array_member(json_object_array_get_idx(embs, i),
                                      "values");

        if (v == NULL)
            return -1;
        buf_addf(out, "%s{\"object\":\"embedding\",\"index\":%zu,"
                 "\"embedding\":", i > 0 ? "," : "", i);
        if (b64)
            add_base64_floats(out, v);
        else
            buf_adds(out, json_object_to_json_string_ext(v, JSON_FLAGS));
        buf_addc(out, '}');
    }
    buf_adds(out, "],\"model\":");
    buf_add_json_str(out, c->model, strlen(c->model));
    buf_addf(out, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":"
             "%lld}}", (long long)c->ev->prompt_tokens,
             (long long)c->ev->prompt_tokens);
    return buf_error(out) ? -1 : 0;
}

int gemini_parse(struct provider_call *c, const char *body, size_t len,
                 struct buf *out)
{
    json_object *root = jparse(body, len, NULL);
    int rc = -1;

    if (root != NULL && json_object_is_type(root, json_type_object)) {
        read_model(c, root);
        rc = c->op == PROV_EMBED ? embed_reply(c, root, out)
                                 : chat_reply(c, root, out);
    }
    json_object_put(root);
    return rc;
}

/* --- streams ----------------------------------------------------------- */

struct sse_ctx {
    struct provider_call *c;
    struct gemini_st *st;
    struct chunk_sink *sink;
    int *done;
};

static int emit_parts(struct sse_ctx *x, json_object *parts)
{
    struct gemini_st *st = x->st;

    for (size_t i = 0; parts && i < json_object_array_length(parts); i++) {
        json_object *p = json_object_array_get_idx(parts, i), *t, *fc;
        const char *a;
        char id[160];
        int rc = 0;

        if ((t = answer_text(p)) != NULL) {
            rc = oai_emit_text(&st->os, x->c, x->sink,
                               json_object_get_string(t),
                               (size_t)json_object_get_string_len(t));
        } else if ((fc = member(p, "functionCall")) != NULL) {
            const char *name = jget_str(fc, "name");

            call_id(x->c, fc, st->n_tools, id, sizeof(id));
            a = args_json(fc);
            rc = oai_emit_tool_call(&st->os, x->c, x->sink, st->n_tools++,
                                    id, name ? name : "", a, strlen(a));
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* One SSE event: a whole GenerateContentResponse with the next parts.
 * The stream ends with the chunk carrying finishReason (no [DONE]). */
static int on_event(void *ud, const char *event, const char *data,
                    size_t len)
{
    struct sse_ctx *x = ud;
    json_object *root, *cand;
    const char *fr;
    int rc = -1;

    (void)event;
    if (*x->done)
        return 0;
    root = jparse(data, len, NULL);
    if (root == NULL || !json_object_is_type(root, json_type_object))
        goto out;
    if (member(root, "error") != NULL) {
        log_warn(x->c->request_id, "%s: error event in the stream: %.200s",
                 x->c->be->name, jget_str(member(root, "error"), "message"));
        goto out;
    }
    read_model(x->c, root);
    if (!x->st->started) {
        oai_stream_init(&x->st->os, x->c->request_id,
                        x->c->ev->served_model);
        x->st->started = 1;
    }
    read_usage(root, x->c->ev);
    cand = first_candidate(root);
    if (emit_parts(x, candidate_parts(cand)) < 0)
        goto out;
    rc = 0;
    if ((fr = finish_of(root, cand)) != NULL) {
        *x->done = 1;
        rc = oai_emit_finish(&x->st->os, x->c, x->sink,
                             map_finish(fr, x->st->n_tools > 0));
        if (rc == 0 && x->c->ev->has_usage)
            rc = oai_emit_usage(&x->st->os, x->c, x->sink);
    }
out:
    json_object_put(root);
    return rc;
}

int gemini_stream(struct provider_call *c, const char *p, size_t n,
                  struct chunk_sink *sink, int *done)
{
    struct sse_ctx x = { c, gemini_state(c), sink, done };

    return sse_feed(c->sse, p, n, on_event, &x) == 0 ? 0 : -1;
}

/* --- errors ------------------------------------------------------------ */

/* Google's {"error":{"code","message","status"}} (or a one-element array
 * of it) as OpenAI's shape with code = the status name; OAuth's
 * {"error","error_description"} too; anything else is wrapped. */
void gemini_error(struct provider_call *c, long status, const char *body,
                  size_t len, struct buf *out)
{
    json_object *o = jparse(body, len, NULL), *e;
    const char *msg = NULL, *code = NULL;
    char m[128];

    (void)c;
    e = o;
    if (json_object_is_type(e, json_type_array))
        e = json_object_array_get_idx(e, 0);
    if ((e = member(e, "error")) != NULL) {
        if (json_object_is_type(e, json_type_object)) {
            msg = jget_str(e, "message");
            code = jget_str(e, "status");
        } else if (json_object_is_type(e, json_type_string)) {
            code = json_object_get_string(e);
            msg = jget_str(json_object_is_type(o, json_type_array)
                           ? json_object_array_get_idx(o, 0) : o,
                           "error_description");
        }
    }
    if (msg != NULL) {
        oai_error(out, msg, oai_error_type(status), code);
    } else {
        snprintf(m, sizeof(m), "the upstream provider answered HTTP %ld",
                 status);
        oai_error(out, m, oai_error_type(status), "upstream_error");
    }
    json_object_put(o);
}

/* --- the gemini provider ----------------------------------------------- */

static int gemini_init(struct backend *be, json_object *conf, char *err,
                       size_t errsz)
{
    (void)conf;
    (void)err;
    (void)errsz;
    if (be->base_url == NULL || *be->base_url == '\0') {
        free(be->base_url);
        be->base_url = xstrdup(GEMINI_BASE_URL);
    }
    return 0;
}

void gemini_add_header(struct provider_call *c, const char *prefix,
                       const char *secret)
{
    struct buf h = BUF_INIT(16384);

    buf_adds(&h, prefix);
    buf_adds(&h, secret);
    if (buf_error(&h) == 0)
        c->hdrs = curl_slist_append(c->hdrs, h.ptr);
    if (h.ptr != NULL)
        memset(h.ptr, 0, h.len);
    buf_release(&h);
}

void gemini_add_json_headers(struct provider_call *c)
{
    c->hdrs = curl_slist_append(c->hdrs, "Content-Type: application/json");
    c->hdrs = curl_slist_append(c->hdrs, c->stream && c->op == PROV_CHAT
                                ? "Accept: text/event-stream"
                                : "Accept: application/json");
}

static int gemini_build(struct provider_call *c)
{
    const struct backend *be = c->be;

    if (!gemini_model_ok(c->model))
        return fail(c, "model names for this provider may only contain "
                       "letters, digits and . _ @ -");
    if ((c->op == PROV_EMBED ? gemini_embed_body(c)
                             : gemini_chat_body(c)) < 0)
        return -1;
    buf_addf(c->url, "%s/models/%s:%s", be->base_url, c->model,
             c->op == PROV_EMBED ? "batchEmbedContents"
             : c->stream ? "streamGenerateContent?alt=sse"
                         : "generateContent");
    if (be->api_key != NULL)
        gemini_add_header(c, "x-goog-api-key: ", be->api_key);
    gemini_add_json_headers(c);
    return buf_error(c->url) ? fail(c, "the model name is too long") : 0;
}

const struct provider_ops provider_gemini = {
    .name = "gemini",
    .init = gemini_init,
    .build = gemini_build,
    .parse = gemini_parse,
    .stream = gemini_stream,
    .error = gemini_error,
    .finish = gemini_finish,
};
