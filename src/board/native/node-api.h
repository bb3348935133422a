/*
 * The few Node-API declarations the native helpers use when Node loads them as an addon (napi-entry.c), written
 * out here so that building them needs no Node headers. Node-API's C ABI is stable across Node versions: opaque
 * handle types and an int status. The functions are not linked: Node's executable provides them when the library
 * is loaded into it (Linux resolves them at load; macOS builds with -undefined dynamic_lookup).
 */
#ifndef TLSF_SIM_NODE_API_H
#define TLSF_SIM_NODE_API_H

#include <stddef.h>
#include <stdint.h>

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_ref__ *napi_ref;
typedef struct napi_handle_scope__ *napi_handle_scope;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status;
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);

enum { NAPI_OK = 0 };
#define NAPI_AUTO_LENGTH ((size_t)-1)

napi_status napi_create_function(napi_env env, const char *name, size_t length, napi_callback callback, void *data,
                                 napi_value *result);
napi_status napi_set_named_property(napi_env env, napi_value object, const char *name, napi_value value);
napi_status napi_get_cb_info(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv,
                             napi_value *this_arg, void **data);
napi_status napi_get_arraybuffer_info(napi_env env, napi_value arraybuffer, void **data, size_t *byte_length);
napi_status napi_get_value_int64(napi_env env, napi_value value, int64_t *result);
napi_status napi_create_int32(napi_env env, int32_t value, napi_value *result);
napi_status napi_get_undefined(napi_env env, napi_value *result);
napi_status napi_create_reference(napi_env env, napi_value value, uint32_t initial_refcount, napi_ref *result);
napi_status napi_delete_reference(napi_env env, napi_ref ref);
napi_status napi_get_reference_value(napi_env env, napi_ref ref, napi_value *result);
napi_status napi_open_handle_scope(napi_env env, napi_handle_scope *result);
napi_status napi_close_handle_scope(napi_env env, napi_handle_scope scope);
napi_status napi_call_function(napi_env env, napi_value receiver, napi_value function, size_t argc,
                               const napi_value *argv, napi_value *result);
napi_status napi_throw_error(napi_env env, const char *code, const char *message);

#endif
