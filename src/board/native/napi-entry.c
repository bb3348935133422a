/*
 * The block hook's way into JavaScript when Node loads the helpers as an addon as well (docs/board.md, "The heap
 * call's cost"): a direct Node-API call instead of a koffi callback pointer. koffi runs every native call on a
 * stack of its own and its callbacks switch back to Node's before entering V8; V8 cannot run on koffi's stack, so
 * the run itself must start from here (start(), a Node-API function running on Node's stack), not through koffi.
 * Each call's handles live in a handle scope shared by CALLS_PER_SCOPE calls: Node-API allocates every scope on
 * the heap, which cost as much as the call into V8 itself.
 */
#include "native-hooks.h"
#include "node-api.h"

enum { CALLS_PER_SCOPE = 256 };

struct js_service {
  /* Written here before each call and read by JavaScript: the service slot's address. */
  int32_t address;
  /* Written by JavaScript: non-zero when the call stopped the run. */
  int32_t stopped;
  /* Non-zero only while start() runs the engine, the one time calling V8 from the hook is safe. */
  int32_t running;
  uint32_t calls_in_scope;
  uc_engine *uc;
  napi_env env;
  napi_ref function;
  /* Open while a batch of calls is under way (NULL between batches), and what was looked up in it. */
  napi_handle_scope scope;
  napi_value function_value;
  napi_value receiver;
};

/* Bytes JavaScript allocates for the state: the `stateSize` property of the addon's exports. */
static const size_t STATE_SIZE = sizeof(struct js_service);

void tlsf_sim_js_service_attach(struct js_service *service, uc_engine *uc) { service->uc = uc; }

static void close_scope(struct js_service *service) {
  if (service->scope == NULL) return;
  napi_close_handle_scope(service->env, service->scope);
  service->scope = NULL;
}

int tlsf_sim_js_service_call(uc_engine *uc, struct js_service *service, uint32_t address) {
  if (!service->running) return -1;
  napi_env env = service->env;
  if (service->scope == NULL) {
    if (napi_open_handle_scope(env, &service->scope) != NAPI_OK) {
      service->scope = NULL;
      napi_throw_error(env, NULL, "tlsf-sim: the heap service's call could not open a handle scope");
      unicorn.emu_stop(uc);
      return 1;
    }
    service->calls_in_scope = 0;
    if (napi_get_reference_value(env, service->function, &service->function_value) != NAPI_OK ||
        napi_get_undefined(env, &service->receiver) != NAPI_OK) {
      close_scope(service);
      napi_throw_error(env, NULL, "tlsf-sim: the heap service's function is gone");
      unicorn.emu_stop(uc);
      return 1;
    }
  }
  service->address = (int32_t)address;
  service->stopped = 0;
  napi_status status = napi_call_function(env, service->receiver, service->function_value, 0, NULL, NULL);
  if (++service->calls_in_scope == CALLS_PER_SCOPE) close_scope(service);
  if (status != NAPI_OK) {
    /* An exception the service did not catch: it stays pending, and start() throws it once the engine stops. */
    unicorn.emu_stop(uc);
    return 1;
  }
  return service->stopped;
}

/* The state an argument names, or NULL after throwing (not an ArrayBuffer of the state's size). */
static struct js_service *state_argument(napi_env env, napi_value value) {
  void *data = NULL;
  size_t length = 0;
  if (napi_get_arraybuffer_info(env, value, &data, &length) != NAPI_OK || length < STATE_SIZE || data == NULL) {
    napi_throw_error(env, NULL, "tlsf-sim: the JavaScript entry's state is not an ArrayBuffer of stateSize bytes");
    return NULL;
  }
  return data;
}

/* bind(state, fn): the function the hook calls; held until release(state). */
static napi_value bind_service(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != NAPI_OK || argc < 2) {
    napi_throw_error(env, NULL, "tlsf-sim: bind(state, fn) needs two arguments");
    return NULL;
  }
  struct js_service *service = state_argument(env, argv[0]);
  if (service == NULL) return NULL;
  if (service->function != NULL) napi_delete_reference(service->env, service->function);
  service->env = env;
  service->function = NULL;
  service->scope = NULL;
  service->running = 0;
  if (napi_create_reference(env, argv[1], 1, &service->function) != NAPI_OK) {
    napi_throw_error(env, NULL, "tlsf-sim: bind(state, fn) could not hold the function");
  }
  return NULL;
}

/* release(state): lets the function go (the engine closed). */
static napi_value release_service(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != NAPI_OK || argc < 1) return NULL;
  struct js_service *service = state_argument(env, argv[0]);
  if (service == NULL || service->function == NULL) return NULL;
  napi_delete_reference(env, service->function);
  service->function = NULL;
  return NULL;
}

/* start(state, begin, until, count): uc_emu_start with no timeout on the attached engine; returns the uc_err. */
static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int64_t begin = 0, until = 0, count = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != NAPI_OK || argc < 4 ||
      napi_get_value_int64(env, argv[1], &begin) != NAPI_OK || napi_get_value_int64(env, argv[2], &until) != NAPI_OK ||
      napi_get_value_int64(env, argv[3], &count) != NAPI_OK) {
    napi_throw_error(env, NULL, "tlsf-sim: start(state, begin, until, count) needs a state and three numbers");
    return NULL;
  }
  struct js_service *service = state_argument(env, argv[0]);
  if (service == NULL) return NULL;
  if (service->uc == NULL || service->function == NULL || service->running) {
    napi_throw_error(env, NULL, "tlsf-sim: start() on an entry that is not attached, bound, or already running");
    return NULL;
  }
  service->running = 1;
  uc_err error = unicorn.emu_start(service->uc, (uint64_t)begin, (uint64_t)until, 0, (size_t)count);
  service->running = 0;
  close_scope(service);
  napi_value result;
  napi_create_int32(env, (int32_t)error, &result);
  return result;
}

static void export_function(napi_env env, napi_value exports, const char *name, napi_callback callback) {
  napi_value function;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, NULL, &function) == NAPI_OK) {
    napi_set_named_property(env, exports, name, function);
  }
}

/* Called by Node when process.dlopen() loads this library (native-library.ts). */
TLSF_SIM_EXPORT napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  export_function(env, exports, "bind", bind_service);
  export_function(env, exports, "release", release_service);
  export_function(env, exports, "start", start);
  napi_value size;
  if (napi_create_int32(env, (int32_t)STATE_SIZE, &size) == NAPI_OK) {
    napi_set_named_property(env, exports, "stateSize", size);
  }
  napi_value version;
  if (napi_create_int32(env, TLSF_SIM_NATIVE_VERSION, &version) == NAPI_OK) {
    napi_set_named_property(env, exports, "version", version);
  }
  return exports;
}
