#include <json-c/json.h>

#include "../../fcgi/validate.c"
#include "t.h"

static int validate(const char *json, const char **why, const char **param,
                    struct chat_params *p)
{
    json_object *o = jparse(json, strlen(json), why);
    int rc;

    if (o == NULL)
        return -2;
    rc = chat_validate(o, p, why, param);
    json_object_put(o);
    return rc;
}

int main(void)
{
    struct chat_params p;
    const char *why = NULL, *param = NULL;

    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"x\"}]}", &why, &param, &p), 0,
             "minimal request valid");
    T_OK(!p.stream && !p.client_usage, "not streaming by default");
    T_EQ_INT(validate("{\"model\":\"m\",\"stream\":true,\"stream_options\":"
                      "{\"include_usage\":true},\"messages\":[{\"role\":"
                      "\"user\"}]}", &why, &param, &p), 0, "stream request");
    T_OK(p.stream && p.client_usage, "stream and include_usage read");
    T_EQ_INT(validate("{\"messages\":[{\"role\":\"user\"}]}", &why, &param,
                      &p), -1, "missing model");
    T_EQ_STR(param, "model", "missing model names the param");
    T_EQ_INT(validate("{\"model\":\"\",\"messages\":[{\"role\":\"user\"}]}",
                      &why, &param, &p), -1, "empty model");
    T_EQ_INT(validate("{\"model\":\"a\\u0000b\",\"messages\":[{\"role\":"
                      "\"user\"}]}", &why, &param, &p), -1,
             "NUL inside model refused");
    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":{}}", &why, &param, &p),
             -1, "messages not an array");
    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":[1]}", &why, &param, &p),
             -1, "message not an object");
    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],"
                      "\"max_tokens\":0}", &why, &param, &p), -1,
             "max_tokens 0");
    T_EQ_STR(param, "max_tokens", "max_tokens named");
    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],"
                      "\"max_tokens\":1.5}", &why, &param, &p), -1,
             "max_tokens not an integer");
    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],"
                      "\"max_tokens\":4096,\"n\":2}", &why, &param, &p), 0,
             "max_tokens and n in range");
    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],"
                      "\"stream_options\":3}", &why, &param, &p), -1,
             "stream_options not an object");

    /* jparse: strictness */
    T_EQ_INT(validate("{\"model\":\"m\"} x", &why, &param, &p), -2,
             "trailing garbage refused");
    T_EQ_INT(validate("{\"model\":\"m\",}", &why, &param, &p), -2,
             "trailing comma refused");
    T_EQ_INT(validate("{'model':'m'}", &why, &param, &p), -2,
             "single quotes refused");
    T_EQ_INT(validate("{\"model\":\"\xc3\x28\"}", &why, &param, &p), -2,
             "invalid UTF-8 refused");
    T_EQ_INT(validate("  {\"model\":\"m\",\"messages\":[{\"role\":\"u\"}]}"
                      "\r\n", &why, &param, &p), 0,
             "surrounding whitespace accepted");
    T_OK(jparse("7", 1, NULL) != NULL, "bare number parses");
    {
        char deep[200];
        memset(deep, '[', sizeof(deep) - 1);
        deep[sizeof(deep) - 1] = '\0';
        T_OK(jparse(deep, strlen(deep), &why) == NULL, "depth limited");
    }
    T_OK(json_has_object_member("{\"usage\" : {\"a\":1}}", 20, "usage"),
         "usage object found across whitespace");
    T_OK(!json_has_object_member("{\"usage\":null}", 14, "usage"),
         "usage null is not an object");
    T_OK(!json_has_object_member("{\"x\":\"usage\"}", 13, "usage"),
         "a string value is not a member");
    return t_done();
}
