/* A pickle reader for exactly two things: the NumPy object arrays of 1-D
 * integer arrays that `numpy.save(..., allow_pickle=True)` writes with
 * pickle protocol 3 (the fold files of SPEC section 1), with the matching
 * writer; and the state dicts of PyTorch's `torch.save` (protocol 2, tensors
 * whose storages live outside the pickle).
 *
 * The reader is a small stack machine over a closed set of value kinds. Each
 * dialect knows the globals its format needs by name and refuses every
 * other one, refuses every opcode it does not list, and bounds-checks every
 * read, so a hostile file can only produce an error message. */
#include "anomaly/error.h"
#include "anomaly/safetensors.h"
#include "io_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum VKind {
    V_NONE,
    V_BOOL,
    V_INT,
    V_STR,
    V_BYTES,
    V_TUPLE,
    V_LIST,
    V_GLOBAL,
    V_ARRAY,
    V_DTYPE,
    V_DICT,    /* torch: items are key, value, key, value, ... */
    V_STORAGE, /* torch: a persistent id naming a storage */
    V_TENSOR   /* torch: _rebuild_tensor_v2's result */
} VKind;
typedef enum GlobalKind {
    G_RECONSTRUCT, G_NDARRAY, G_DTYPE, /* NumPy */
    G_ODICT, G_REBUILD_TENSOR, G_REBUILD_PARAM, G_STORAGE /* torch */
} GlobalKind;

typedef struct Value Value;
struct Value {
    VKind kind;
    Value *next;          /* every value ever made, for freeing */
    int64_t i;            /* V_BOOL, V_INT, V_GLOBAL (a GlobalKind) */
    const uint8_t *bytes; /* V_STR, V_BYTES: points into the input */
    size_t len;
    Value **items; /* V_TUPLE, V_LIST */
    size_t n_items, cap;
    int built; /* V_ARRAY, V_DTYPE: BUILD has run */
    /* V_ARRAY after BUILD */
    int ndim;
    int64_t shape[NPY_PICKLE_MAX_DIMS];
    Value *dtype, *data;
    /* V_DTYPE: kind 'O', 'i' or 'u', item size, byte order after BUILD */
    char type;
    int itemsize;
    char order;
    /* V_GLOBAL of G_STORAGE, V_STORAGE: the StDtype; V_STORAGE: numel;
     * V_TENSOR: storage offset, strides (shape and ndim above) */
    int st_dtype;
    int64_t numel, offset;
    int64_t stride[NPY_PICKLE_MAX_DIMS];
};

#define MAX_STACK (1 << 16)
#define MAX_MEMO (1 << 20)
/* Far above a real fold file (about ten values per index array) and far
 * below what would exhaust memory. */
#define MAX_VALUES (1 << 22)

typedef struct Vm {
    int torch; /* the dialect: 0 NumPy object arrays, 1 torch state dicts */
    const uint8_t *p;
    size_t n, pos;
    const char *path;
    char *err;
    size_t errlen;
    size_t at; /* offset of the opcode being run, for messages */
    Value *all;
    size_t n_values;
    Value **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t n_marks, marks_cap;
    Value **memo;
    size_t memo_cap;
    size_t memo_next; /* MEMOIZE's index: one past the highest stored */
} Vm;

static int fail(Vm *vm, const char *fmt, ...) ANOMALY_PRINTF(2, 3);
static int fail(Vm *vm, const char *fmt, ...) {
    if (vm->err && vm->errlen) {
        int k = snprintf(vm->err, vm->errlen, "%s: pickle ", vm->path);
        if (k >= 0 && (size_t)k < vm->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(vm->err + k, vm->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static Value *new_value(Vm *vm, VKind kind) {
    Value *v = xcalloc(1, sizeof *v, "a pickle value");
    v->kind = kind;
    v->next = vm->all;
    vm->all = v;
    vm->n_values++;
    return v;
}

static int need(Vm *vm, size_t k, const char *what) {
    if (k > vm->n - vm->pos)
        return fail(vm, "truncated: %s at offset %zu needs %zu bytes, %zu left", what, vm->pos, k,
                    vm->n - vm->pos);
    return 0;
}

static uint64_t le(const uint8_t *b, int k) {
    uint64_t x = 0;
    for (int i = k - 1; i >= 0; i--) x = x << 8 | b[i];
    return x;
}

static int push(Vm *vm, Value *v) {
    if (vm->sp == MAX_STACK) return fail(vm, "stack deeper than %d", MAX_STACK);
    if (vm->sp == vm->stack_cap) {
        vm->stack_cap = vm->stack_cap ? 2 * vm->stack_cap : 64;
        vm->stack = xrealloc(vm->stack, vm->stack_cap * sizeof *vm->stack, "the pickle stack");
    }
    vm->stack[vm->sp++] = v;
    return 0;
}

/* The stack floor: values below the innermost mark are out of reach. */
static size_t floor_of(const Vm *vm) { return vm->n_marks ? vm->marks[vm->n_marks - 1] : 0; }

static Value *pop(Vm *vm, const char *op) {
    if (vm->sp <= floor_of(vm)) {
        fail(vm, "%s at offset %zu: stack underflow", op, vm->at);
        return NULL;
    }
    return vm->stack[--vm->sp];
}

static Value *top(Vm *vm, const char *op) {
    if (vm->sp <= floor_of(vm)) {
        fail(vm, "%s at offset %zu: empty stack", op, vm->at);
        return NULL;
    }
    return vm->stack[vm->sp - 1];
}

/* Pops everything above the innermost mark into a new tuple or list items. */
static int pop_to_mark(Vm *vm, const char *op, Value ***items, size_t *count) {
    if (!vm->n_marks) return fail(vm, "%s at offset %zu without a MARK", op, vm->at);
    size_t m = vm->marks[--vm->n_marks];
    *count = vm->sp - m;
    *items = xmalloc((*count ? *count : 1) * sizeof **items, "pickle items");
    if (*count) memcpy(*items, vm->stack + m, *count * sizeof **items);
    vm->sp = m;
    return 0;
}

static int make_tuple(Vm *vm, size_t k) {
    if (vm->sp - floor_of(vm) < k) return fail(vm, "TUPLE%zu at offset %zu: stack underflow", k, vm->at);
    Value *t = new_value(vm, V_TUPLE);
    t->n_items = k;
    t->items = xmalloc(k * sizeof *t->items, "pickle items");
    memcpy(t->items, vm->stack + vm->sp - k, k * sizeof *t->items);
    vm->sp -= k;
    return push(vm, t);
}

static int memo_put(Vm *vm, size_t idx) {
    if (idx >= MAX_MEMO) return fail(vm, "memo index %zu too large", idx);
    Value *v = top(vm, "PUT");
    if (!v) return -1;
    if (idx >= vm->memo_cap) {
        size_t cap = vm->memo_cap ? vm->memo_cap : 64;
        while (cap <= idx) cap *= 2;
        vm->memo = xrealloc(vm->memo, cap * sizeof *vm->memo, "the pickle memo");
        memset(vm->memo + vm->memo_cap, 0, (cap - vm->memo_cap) * sizeof *vm->memo);
        vm->memo_cap = cap;
    }
    vm->memo[idx] = v;
    if (idx + 1 > vm->memo_next) vm->memo_next = idx + 1;
    return 0;
}

static int memo_get(Vm *vm, size_t idx) {
    if (idx >= vm->memo_cap || !vm->memo[idx])
        return fail(vm, "GET at offset %zu of memo entry %zu, which was never stored", vm->at, idx);
    return push(vm, vm->memo[idx]);
}

static int str_is(const Value *v, const char *s) {
    return v->kind == V_STR && v->len == strlen(s) && memcmp(v->bytes, s, v->len) == 0;
}

typedef struct Allowed {
    const char *module, *name;
    GlobalKind kind;
    int st_dtype;
} Allowed;

static const Allowed numpy_globals[] = {
    {"numpy.core.multiarray", "_reconstruct", G_RECONSTRUCT, 0},
    {"numpy._core.multiarray", "_reconstruct", G_RECONSTRUCT, 0}, /* NumPy 2 */
    {"numpy", "ndarray", G_NDARRAY, 0},
    {"numpy", "dtype", G_DTYPE, 0},
};

/* What torch.load(weights_only=True) allows for a state dict of tensors. */
static const Allowed torch_globals[] = {
    {"collections", "OrderedDict", G_ODICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR, 0},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAM, 0},
    {"torch", "FloatStorage", G_STORAGE, ST_F32},
    {"torch", "DoubleStorage", G_STORAGE, ST_F64},
    {"torch", "HalfStorage", G_STORAGE, ST_F16},
    {"torch", "BFloat16Storage", G_STORAGE, ST_BF16},
    {"torch", "LongStorage", G_STORAGE, ST_I64},
    {"torch", "IntStorage", G_STORAGE, ST_I32},
    {"torch", "ShortStorage", G_STORAGE, ST_I16},
    {"torch", "CharStorage", G_STORAGE, ST_I8},
    {"torch", "ByteStorage", G_STORAGE, ST_U8},
    {"torch", "BoolStorage", G_STORAGE, ST_BOOL},
};

/* Pushes the global module.name if the dialect allows it. */
static int push_global(Vm *vm, const uint8_t *module, size_t module_n, const uint8_t *name, size_t name_n) {
    const Allowed *allowed = vm->torch ? torch_globals : numpy_globals;
    size_t count = vm->torch ? sizeof torch_globals / sizeof torch_globals[0]
                             : sizeof numpy_globals / sizeof numpy_globals[0];
    for (size_t i = 0; i < count; i++)
        if (module_n == strlen(allowed[i].module) && memcmp(module, allowed[i].module, module_n) == 0 &&
            name_n == strlen(allowed[i].name) && memcmp(name, allowed[i].name, name_n) == 0) {
            Value *g = new_value(vm, V_GLOBAL);
            g->i = allowed[i].kind;
            g->st_dtype = allowed[i].st_dtype;
            return push(vm, g);
        }
    const uint8_t *line[2] = {module, name};
    size_t len[2] = {module_n, name_n};
    /* Printable only: the names come from the file. */
    char shown[2][64];
    for (int k = 0; k < 2; k++) {
        size_t j = 0;
        for (; j < len[k] && j < sizeof shown[k] - 1; j++)
            shown[k][j] = (line[k][j] >= 32 && line[k][j] < 127) ? (char)line[k][j] : '?';
        shown[k][j] = 0;
    }
    return fail(vm, "global %s.%s is not allowed", shown[0], shown[1]);
}

static int op_global(Vm *vm) {
    const uint8_t *line[2];
    size_t len[2];
    for (int k = 0; k < 2; k++) {
        const uint8_t *s = vm->p + vm->pos, *nl = memchr(s, '\n', vm->n - vm->pos);
        if (!nl) return fail(vm, "truncated: GLOBAL at offset %zu has no end of line", vm->pos);
        line[k] = s;
        len[k] = (size_t)(nl - s);
        vm->pos += len[k] + 1;
    }
    return push_global(vm, line[0], len[0], line[1], len[1]);
}

static int as_int(const Value *v, int64_t *x) {
    if (v->kind != V_INT && v->kind != V_BOOL) return 0;
    *x = v->i;
    return 1;
}

/* A tuple of non-negative integers (at most NPY_PICKLE_MAX_DIMS) into out. */
static int int_tuple(const Value *t, int64_t *out, int *n) {
    if (t->kind != V_TUPLE || t->n_items > NPY_PICKLE_MAX_DIMS) return 0;
    for (size_t k = 0; k < t->n_items; k++)
        if (!as_int(t->items[k], &out[k]) || out[k] < 0) return 0;
    *n = (int)t->n_items;
    return 1;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks
 * [, metadata]), _rebuild_parameter(tensor, requires_grad, hooks) and
 * OrderedDict(). */
static int torch_reduce(Vm *vm, const Value *fn, const Value *args) {
    Value *const *a = args->items;
    size_t n = args->n_items;
    if (fn->i == G_ODICT) {
        if (n != 0) return fail(vm, "OrderedDict at offset %zu: called with arguments", vm->at);
        return push(vm, new_value(vm, V_DICT));
    }
    if (fn->i == G_REBUILD_PARAM) {
        if (n != 3 || a[0]->kind != V_TENSOR || a[1]->kind != V_BOOL)
            return fail(vm, "_rebuild_parameter at offset %zu: unexpected arguments", vm->at);
        return push(vm, a[0]);
    }
    if (fn->i == G_REBUILD_TENSOR) {
        int nd_size = -1, nd_stride = -1;
        Value *t = new_value(vm, V_TENSOR);
        if ((n != 6 && n != 7) || a[0]->kind != V_STORAGE || !as_int(a[1], &t->offset) || t->offset < 0 ||
            !int_tuple(a[2], t->shape, &nd_size) || !int_tuple(a[3], t->stride, &nd_stride) ||
            nd_size != nd_stride || a[4]->kind != V_BOOL)
            return fail(vm, "_rebuild_tensor_v2 at offset %zu: unexpected arguments (or a rank above %d, or a "
                        "negative size, stride or offset)", vm->at, NPY_PICKLE_MAX_DIMS);
        t->ndim = nd_size;
        t->data = a[0];
        return push(vm, t);
    }
    return fail(vm, "REDUCE at offset %zu: a storage type cannot be called", vm->at);
}

static int op_reduce(Vm *vm) {
    Value *args = pop(vm, "REDUCE"), *fn = args ? pop(vm, "REDUCE") : NULL;
    if (!fn) return -1;
    if (fn->kind != V_GLOBAL || args->kind != V_TUPLE)
        return fail(vm, "REDUCE at offset %zu: not a call of an allowed global", vm->at);
    if (vm->torch) return torch_reduce(vm, fn, args);
    if (fn->i == G_RECONSTRUCT) {
        if (args->n_items != 3 || args->items[0]->kind != V_GLOBAL || args->items[0]->i != G_NDARRAY ||
            args->items[1]->kind != V_TUPLE || args->items[2]->kind != V_BYTES)
            return fail(vm, "_reconstruct at offset %zu: unexpected arguments", vm->at);
        return push(vm, new_value(vm, V_ARRAY));
    }
    if (fn->i == G_DTYPE) {
        if (args->n_items != 3 || args->items[0]->kind != V_STR || args->items[1]->kind != V_BOOL ||
            args->items[2]->kind != V_BOOL)
            return fail(vm, "dtype at offset %zu: unexpected arguments", vm->at);
        const Value *code = args->items[0];
        static const char *known[] = {"O8", "O4", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"};
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (str_is(code, known[k])) {
                Value *d = new_value(vm, V_DTYPE);
                d->type = known[k][0];
                d->itemsize = known[k][1] - '0';
                return push(vm, d);
            }
        char shown[16];
        size_t j = 0;
        for (; j < code->len && j < sizeof shown - 1; j++)
            shown[j] = (code->bytes[j] >= 32 && code->bytes[j] < 127) ? (char)code->bytes[j] : '?';
        shown[j] = 0;
        return fail(vm, "dtype '%s' is not an integer or object type", shown);
    }
    return fail(vm, "REDUCE at offset %zu: numpy.ndarray cannot be called directly", vm->at);
}

static int build_dtype(Vm *vm, Value *d, const Value *st) {
    /* (3, byteorder, subarray, names, fields, elsize, alignment, flags) */
    int64_t version;
    if (st->kind != V_TUPLE || st->n_items != 8 || !as_int(st->items[0], &version) || version != 3 ||
        st->items[1]->kind != V_STR || st->items[1]->len != 1 || st->items[2]->kind != V_NONE ||
        st->items[3]->kind != V_NONE || st->items[4]->kind != V_NONE)
        return fail(vm, "BUILD at offset %zu: unexpected dtype state", vm->at);
    char order = (char)st->items[1]->bytes[0];
    if (order == '>') return fail(vm, "big-endian arrays are not supported");
    if (order != '<' && order != '|')
        return fail(vm, "BUILD at offset %zu: unknown byte order '%c'", vm->at, order >= 32 ? order : '?');
    d->order = order;
    d->built = 1;
    return 0;
}

static int build_array(Vm *vm, Value *a, const Value *st) {
    /* (1, shape, dtype, fortran_order, data) */
    int64_t version;
    if (st->kind != V_TUPLE || st->n_items != 5 || !as_int(st->items[0], &version) || version != 1 ||
        st->items[1]->kind != V_TUPLE || st->items[2]->kind != V_DTYPE || !st->items[2]->built ||
        st->items[3]->kind != V_BOOL)
        return fail(vm, "BUILD at offset %zu: unexpected ndarray state", vm->at);
    const Value *shape = st->items[1];
    if (shape->n_items > NPY_PICKLE_MAX_DIMS)
        return fail(vm, "array of %zu dimensions (at most %d)", shape->n_items, NPY_PICKLE_MAX_DIMS);
    a->ndim = (int)shape->n_items;
    uint64_t count = 1;
    for (int k = 0; k < a->ndim; k++) {
        int64_t s;
        if (!as_int(shape->items[k], &s) || s < 0 || s > ((int64_t)1 << 40))
            return fail(vm, "BUILD at offset %zu: bad array shape", vm->at);
        a->shape[k] = s;
        if (s && count > ((uint64_t)1 << 40) / (uint64_t)s) return fail(vm, "array too large");
        count *= (uint64_t)s;
    }
    a->dtype = st->items[2];
    a->data = st->items[4];
    if (a->dtype->type == 'O') {
        if (a->data->kind != V_LIST)
            return fail(vm, "BUILD at offset %zu: object array without a list of items", vm->at);
        /* The list may still grow (APPENDS after BUILD is legal pickle, though
         * NumPy never writes it), so its length is checked at the end. */
    } else if (a->data->kind != V_BYTES || a->data->len != count * (uint64_t)a->dtype->itemsize) {
        return fail(vm, "BUILD at offset %zu: array data holds %zu bytes, its shape needs %llu", vm->at,
                    a->data->kind == V_BYTES ? a->data->len : 0,
                    (unsigned long long)(count * (uint64_t)a->dtype->itemsize));
    }
    a->built = 1;
    return 0;
}

static int op_build(Vm *vm) {
    Value *st = pop(vm, "BUILD"), *obj = st ? top(vm, "BUILD") : NULL;
    if (!obj) return -1;
    if (obj->built) return fail(vm, "BUILD at offset %zu: object already built", vm->at);
    /* torch: an OrderedDict's attributes (state dicts carry `_metadata`) */
    if (vm->torch && obj->kind == V_DICT && st->kind == V_DICT) return 0;
    if (obj->kind == V_DTYPE) return build_dtype(vm, obj, st);
    if (obj->kind == V_ARRAY) return build_array(vm, obj, st);
    return fail(vm, "BUILD at offset %zu: only arrays and dtypes can be built", vm->at);
}

static void list_append(Value *list, Value **items, size_t k) {
    if (list->n_items + k > list->cap) {
        list->cap = 2 * (list->n_items + k);
        list->items = xrealloc(list->items, list->cap * sizeof *list->items, "pickle list");
    }
    if (k) memcpy(list->items + list->n_items, items, k * sizeof *items);
    list->n_items += k;
}

/* SETITEM(S): pairs of key, value appended to a dict. A repeated key (which
 * torch.save never writes) is not merged here: the state dict's reader
 * refuses it by name, and no hostile file can make this quadratic. */
static int dict_set(Vm *vm, Value *dict, Value **kv, size_t k) {
    if (dict->kind != V_DICT) return fail(vm, "SETITEM at offset %zu: not a dict", vm->at);
    if (k % 2) return fail(vm, "SETITEMS at offset %zu: a key without a value", vm->at);
    list_append(dict, kv, k);
    return 0;
}

/* BINPERSID's ('storage', storage type, key, location, numel). */
static int op_persid(Vm *vm) {
    Value *pid = pop(vm, "BINPERSID");
    if (!pid) return -1;
    Value *const *a = pid->items;
    Value *s = new_value(vm, V_STORAGE);
    if (pid->kind != V_TUPLE || pid->n_items != 5 || !str_is(a[0], "storage") || a[1]->kind != V_GLOBAL ||
        a[1]->i != G_STORAGE || a[2]->kind != V_STR || a[3]->kind != V_STR || !as_int(a[4], &s->numel) ||
        s->numel < 0)
        return fail(vm, "BINPERSID at offset %zu: not a storage reference", vm->at);
    s->st_dtype = a[1]->st_dtype;
    s->bytes = a[2]->bytes;
    s->len = a[2]->len;
    return push(vm, s);
}

/* The opcodes only torch state dicts use: dicts, persistent ids, long
 * integers, and protocol 4's framing and short strings. */
static int torch_op(Vm *vm, uint8_t op) {
    Value *v;
    switch (op) {
    case '}': return push(vm, new_value(vm, V_DICT));
    case ')': return push(vm, new_value(vm, V_TUPLE));
    case 's': { /* SETITEM */
        Value *kv[2];
        if (!(kv[1] = pop(vm, "SETITEM")) || !(kv[0] = pop(vm, "SETITEM")) || !(v = top(vm, "SETITEM")))
            return -1;
        return dict_set(vm, v, kv, 2);
    }
    case 'u': { /* SETITEMS */
        Value **items;
        size_t k;
        if (pop_to_mark(vm, "SETITEMS", &items, &k)) return -1;
        int rc = (v = top(vm, "SETITEMS")) ? dict_set(vm, v, items, k) : -1;
        free(items);
        return rc;
    }
    case 'Q': return op_persid(vm);
    case 0x8a: { /* LONG1: little-endian two's complement of n bytes */
        if (need(vm, 1, "LONG1")) return -1;
        size_t k = vm->p[vm->pos++];
        if (k > 8) return fail(vm, "LONG1 at offset %zu: an integer of %zu bytes", vm->at, k);
        if (need(vm, k, "LONG1")) return -1;
        uint64_t u = le(vm->p + vm->pos, (int)k);
        if (k && k < 8 && (u >> (8 * k - 1)) & 1) u |= ~(uint64_t)0 << (8 * k);
        vm->pos += k;
        v = new_value(vm, V_INT);
        v->i = (int64_t)u;
        return push(vm, v);
    }
    case 0x8c: { /* SHORT_BINUNICODE */
        if (need(vm, 1, "a length")) return -1;
        size_t len = vm->p[vm->pos++];
        if (need(vm, len, "a string")) return -1;
        v = new_value(vm, V_STR);
        v->bytes = vm->p + vm->pos;
        v->len = len;
        vm->pos += len;
        return push(vm, v);
    }
    case 0x94: return memo_put(vm, vm->memo_next); /* MEMOIZE */
    case 0x95: /* FRAME: a length hint only */
        if (need(vm, 8, "FRAME")) return -1;
        vm->pos += 8;
        return 0;
    case 0x93: { /* STACK_GLOBAL */
        Value *name = pop(vm, "STACK_GLOBAL"), *module = name ? pop(vm, "STACK_GLOBAL") : NULL;
        if (!module) return -1;
        if (module->kind != V_STR || name->kind != V_STR)
            return fail(vm, "STACK_GLOBAL at offset %zu: names are not strings", vm->at);
        return push_global(vm, module->bytes, module->len, name->bytes, name->len);
    }
    default: return fail(vm, "opcode 0x%02x at offset %zu is not allowed in a torch state dict", op, vm->at);
    }
}

/* Runs the opcodes up to STOP; *result is the popped value. */
static int run(Vm *vm, Value **result) {
    if (need(vm, 2, "PROTO") != 0) return -1;
    if (vm->p[0] != 0x80) return fail(vm, "is missing its PROTO opcode (not a pickle)");
    if (!vm->torch && vm->p[1] != 3)
        return fail(vm, "protocol %d is not supported (NumPy writes protocol 3)", vm->p[1]);
    if (vm->torch && (vm->p[1] < 2 || vm->p[1] > 4))
        return fail(vm, "protocol %d is not supported (torch.save writes protocol 2)", vm->p[1]);
    vm->pos = 2;
    for (;;) {
        if (need(vm, 1, "an opcode") != 0) return -1;
        size_t at = vm->at = vm->pos;
        uint8_t op = vm->p[vm->pos++];
        int rc = 0;
        Value *v;
        switch (op) {
        case '.': /* STOP */
            if (!(v = pop(vm, "STOP"))) return -1;
            if (vm->sp || vm->n_marks) return fail(vm, "STOP at offset %zu leaves values on the stack", at);
            if (vm->pos != vm->n) return fail(vm, "has %zu bytes after STOP", vm->n - vm->pos);
            *result = v;
            return 0;
        case 'c': rc = op_global(vm); break;
        case 'q': /* BINPUT */
            if ((rc = need(vm, 1, "BINPUT"))) break;
            rc = memo_put(vm, vm->p[vm->pos++]);
            break;
        case 'r': /* LONG_BINPUT */
            if ((rc = need(vm, 4, "LONG_BINPUT"))) break;
            rc = memo_put(vm, (size_t)le(vm->p + vm->pos, 4));
            vm->pos += 4;
            break;
        case 'h': /* BINGET */
            if ((rc = need(vm, 1, "BINGET"))) break;
            rc = memo_get(vm, vm->p[vm->pos++]);
            break;
        case 'j': /* LONG_BINGET */
            if ((rc = need(vm, 4, "LONG_BINGET"))) break;
            rc = memo_get(vm, (size_t)le(vm->p + vm->pos, 4));
            vm->pos += 4;
            break;
        case 'K':
        case 'M':
        case 'J': { /* BININT1, BININT2, BININT */
            int k = op == 'K' ? 1 : op == 'M' ? 2 : 4;
            if ((rc = need(vm, (size_t)k, "an integer"))) break;
            uint64_t u = le(vm->p + vm->pos, k);
            vm->pos += (size_t)k;
            v = new_value(vm, V_INT);
            v->i = op == 'J' ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
            rc = push(vm, v);
            break;
        }
        case 'N': rc = push(vm, new_value(vm, V_NONE)); break;
        case 0x88:
        case 0x89: /* NEWTRUE, NEWFALSE */
            v = new_value(vm, V_BOOL);
            v->i = op == 0x88;
            rc = push(vm, v);
            break;
        case 'C':
        case 'B':
        case 'X': { /* SHORT_BINBYTES, BINBYTES, BINUNICODE */
            int k = op == 'C' ? 1 : 4;
            if ((rc = need(vm, (size_t)k, "a length"))) break;
            size_t len = (size_t)le(vm->p + vm->pos, k);
            vm->pos += (size_t)k;
            if ((rc = need(vm, len, op == 'X' ? "a string" : "a byte string"))) break;
            v = new_value(vm, op == 'X' ? V_STR : V_BYTES);
            v->bytes = vm->p + vm->pos;
            v->len = len;
            vm->pos += len;
            rc = push(vm, v);
            break;
        }
        case 0x85:
        case 0x86:
        case 0x87: rc = make_tuple(vm, (size_t)(op - 0x84)); break;
        case '(': /* MARK */
            if (vm->n_marks == vm->marks_cap) {
                if (vm->marks_cap >= MAX_STACK) return fail(vm, "too many nested MARKs");
                vm->marks_cap = vm->marks_cap ? 2 * vm->marks_cap : 16;
                vm->marks = xrealloc(vm->marks, vm->marks_cap * sizeof *vm->marks, "pickle marks");
            }
            vm->marks[vm->n_marks++] = vm->sp;
            break;
        case 't': { /* TUPLE */
            v = new_value(vm, V_TUPLE);
            if ((rc = pop_to_mark(vm, "TUPLE", &v->items, &v->n_items))) break;
            rc = push(vm, v);
            break;
        }
        case ']': rc = push(vm, new_value(vm, V_LIST)); break;
        case 'e': { /* APPENDS */
            Value **items;
            size_t k;
            if ((rc = pop_to_mark(vm, "APPENDS", &items, &k))) break;
            v = top(vm, "APPENDS");
            if (!v || v->kind != V_LIST) {
                free(items);
                return v ? fail(vm, "APPENDS at offset %zu: not a list", at) : -1;
            }
            list_append(v, items, k);
            free(items);
            break;
        }
        case 'a': { /* APPEND */
            Value *item = pop(vm, "APPEND");
            if (!item || !(v = top(vm, "APPEND"))) return -1;
            if (v->kind != V_LIST) return fail(vm, "APPEND at offset %zu: not a list", at);
            list_append(v, &item, 1);
            break;
        }
        case 'R': rc = op_reduce(vm); break;
        case 'b': rc = op_build(vm); break;
        default:
            if (vm->torch) {
                rc = torch_op(vm, op);
                break;
            }
            return fail(vm, "opcode 0x%02x at offset %zu is not allowed in a NumPy array pickle", op, at);
        }
        if (rc) return -1;
        if (vm->n_values > MAX_VALUES) return fail(vm, "more than %d values", MAX_VALUES);
    }
}

static int convert(Vm *vm, const Value *root, NpyObjectArray *out) {
    if (root->kind != V_ARRAY || !root->built || root->dtype->type != 'O')
        return fail(vm, "does not hold an object array");
    const Value *list = root->data;
    uint64_t count = 1;
    for (int k = 0; k < root->ndim; k++) count *= (uint64_t)root->shape[k];
    if (list->n_items != count)
        return fail(vm, "object array of %llu cells holds %zu items", (unsigned long long)count,
                    list->n_items);
    out->ndim = root->ndim;
    memcpy(out->shape, root->shape, sizeof out->shape);
    out->count = (size_t)count;
    out->cells = xcalloc(out->count ? out->count : 1, sizeof *out->cells, "fold cells");
    for (size_t c = 0; c < out->count; c++) {
        const Value *a = list->items[c];
        if (a->kind != V_ARRAY || !a->built || a->dtype->type == 'O' || a->ndim != 1) {
            npy_pickle_free(out);
            return fail(vm, "cell %zu is not a 1-D integer array", c);
        }
        size_t n = (size_t)a->shape[0];
        int isz = a->dtype->itemsize;
        int64_t *v = xmalloc((n ? n : 1) * sizeof *v, "fold indices");
        out->cells[c].v = v;
        out->cells[c].n = n;
        for (size_t i = 0; i < n; i++) {
            uint64_t u = le(a->data->bytes + i * (size_t)isz, isz);
            if (a->dtype->type == 'i' && isz < 8 && (u >> (8 * isz - 1)) & 1) u |= ~(uint64_t)0 << (8 * isz);
            if (a->dtype->type == 'u' && u > (uint64_t)INT64_MAX) {
                npy_pickle_free(out);
                return fail(vm, "cell %zu holds a value beyond int64", c);
            }
            v[i] = (int64_t)u;
        }
    }
    return 0;
}

static void vm_free(Vm *vm) {
    while (vm->all) {
        Value *next = vm->all->next;
        free(vm->all->items);
        free(vm->all);
        vm->all = next;
    }
    free(vm->stack);
    free(vm->marks);
    free(vm->memo);
}

int npy_pickle_read(const uint8_t *data, size_t size, const char *path, NpyObjectArray *out, char *err,
                    size_t errlen) {
    memset(out, 0, sizeof *out);
    Vm vm;
    memset(&vm, 0, sizeof vm);
    vm.p = data;
    vm.n = size;
    vm.path = path;
    vm.err = err;
    vm.errlen = errlen;
    Value *root = NULL;
    int rc = run(&vm, &root);
    if (rc == 0) rc = convert(&vm, root, out);
    vm_free(&vm);
    return rc;
}

static char *str_copy(const Value *v) {
    char *s = xmalloc(v->len + 1, "a tensor name");
    memcpy(s, v->bytes, v->len);
    s[v->len] = 0;
    return s;
}

static int torch_ref(Vm *vm, const Value *t, const Value *key, TorchTensorRef *r) {
    const Value *st = t->data;
    r->name = key ? str_copy(key) : NULL;
    if (r->name && strlen(r->name) != key->len) return fail(vm, "a key contains a NUL character");
    r->dtype = st->st_dtype;
    r->storage_key = str_copy(st);
    r->storage_numel = st->numel;
    r->offset = t->offset;
    r->ndim = t->ndim;
    memcpy(r->shape, t->shape, sizeof r->shape);
    memcpy(r->stride, t->stride, sizeof r->stride);
    return 0;
}

static int torch_convert(Vm *vm, const Value *root, TorchPickle *out) {
    if (root->kind == V_TENSOR) {
        out->tensors = xcalloc(1, sizeof *out->tensors, "a tensor list");
        out->count = 1;
        return torch_ref(vm, root, NULL, out->tensors);
    }
    if (root->kind != V_DICT) return fail(vm, "holds neither a state dict nor a tensor");
    size_t n = root->n_items / 2;
    out->tensors = xcalloc(n ? n : 1, sizeof *out->tensors, "a tensor list");
    for (size_t i = 0; i < n; i++) {
        const Value *k = root->items[2 * i], *v = root->items[2 * i + 1];
        if (k->kind != V_STR) return fail(vm, "state dict entry %zu has a key that is not a string", i);
        /* checked before torch_ref reads the tensor's storage */
        if (v->kind != V_TENSOR)
            return fail(vm, "state dict entry '%.*s' is not a tensor", (int)(k->len < 200 ? k->len : 200),
                        (const char *)k->bytes);
        out->count++;
        if (torch_ref(vm, v, k, &out->tensors[i])) return -1;
    }
    return 0;
}

int torch_pickle_read(const uint8_t *data, size_t size, const char *path, TorchPickle *out, char *err,
                      size_t errlen) {
    memset(out, 0, sizeof *out);
    Vm vm;
    memset(&vm, 0, sizeof vm);
    vm.torch = 1;
    vm.p = data;
    vm.n = size;
    vm.path = path;
    vm.err = err;
    vm.errlen = errlen;
    Value *root = NULL;
    int rc = run(&vm, &root);
    if (rc == 0) rc = torch_convert(&vm, root, out);
    if (rc) torch_pickle_free(out);
    vm_free(&vm);
    return rc;
}

void torch_pickle_free(TorchPickle *t) {
    for (size_t i = 0; i < t->count; i++) {
        free(t->tensors[i].name);
        free(t->tensors[i].storage_key);
    }
    free(t->tensors);
    memset(t, 0, sizeof *t);
}

void npy_pickle_free(NpyObjectArray *a) {
    for (size_t c = 0; a->cells && c < a->count; c++) free(a->cells[c].v);
    free(a->cells);
    memset(a, 0, sizeof *a);
}

/* ---- writing, as CPython's pickler does for these objects ---- */

typedef struct Writer {
    FILE *fp;
    uint32_t memo; /* next memo index */
} Writer;

static void w_u32(Writer *w, uint32_t x) {
    for (int k = 0; k < 4; k++) fputc((int)(x >> (8 * k) & 0xff), w->fp);
}

static void w_put(Writer *w) {
    if (w->memo < 256) {
        fputc('q', w->fp);
        fputc((int)w->memo, w->fp);
    } else {
        fputc('r', w->fp);
        w_u32(w, w->memo);
    }
    w->memo++;
}

static void w_get(Writer *w, uint32_t idx) {
    if (idx < 256) {
        fputc('h', w->fp);
        fputc((int)idx, w->fp);
    } else {
        fputc('j', w->fp);
        w_u32(w, idx);
    }
}

static void w_int(Writer *w, int64_t x) {
    if (x >= 0 && x <= 0xff) {
        fputc('K', w->fp);
        fputc((int)x, w->fp);
    } else if (x >= 0 && x <= 0xffff) {
        fputc('M', w->fp);
        fputc((int)(x & 0xff), w->fp);
        fputc((int)(x >> 8), w->fp);
    } else if (x >= INT32_MIN && x <= INT32_MAX) {
        fputc('J', w->fp);
        w_u32(w, (uint32_t)(int32_t)x);
    } else {
        fatal("pickle writer: integer %lld out of range", (long long)x);
    }
}

static void w_str(Writer *w, const char *s) {
    fputc('X', w->fp);
    w_u32(w, (uint32_t)strlen(s));
    fputs(s, w->fp);
    w_put(w);
}

/* The opcode and length of a byte string; the caller writes the bytes and
 * then memoizes it with w_put(). */
static void w_bytes_begin(Writer *w, size_t len) {
    if (len < 256) {
        fputc('C', w->fp);
        fputc((int)len, w->fp);
    } else {
        if (len > 0xffffffffu) fatal("pickle writer: array of %zu bytes is too large", len);
        fputc('B', w->fp);
        w_u32(w, (uint32_t)len);
    }
}

/* A tuple of up to three items is TUPLEn after them; longer ones need a MARK
 * before the first item, so callers write `(` themselves and end with 't'. */
static void w_shape(Writer *w, int ndim, const int64_t *shape) {
    if (ndim > 3) fputc('(', w->fp);
    for (int k = 0; k < ndim; k++) w_int(w, shape[k]);
    fputc(ndim > 3 ? 't' : 0x84 + ndim, w->fp);
    w_put(w);
}

/* dtype(code, False, True) with its 8-field state; returns its memo index.
 * The numpy.dtype global is written in full the first time, then fetched. */
static uint32_t w_dtype(Writer *w, int64_t *dtype_global, const char *code, const char *order, int flags) {
    if (*dtype_global < 0) {
        *dtype_global = w->memo;
        fputs("cnumpy\ndtype\n", w->fp);
        w_put(w);
    } else {
        w_get(w, (uint32_t)*dtype_global);
    }
    w_str(w, code);
    fputc(0x89, w->fp);
    fputc(0x88, w->fp);
    fputc(0x87, w->fp);
    w_put(w);
    fputc('R', w->fp);
    uint32_t id = w->memo;
    w_put(w);
    fputc('(', w->fp);
    w_int(w, 3);
    w_str(w, order);
    fputs("NNN", w->fp);
    w_int(w, -1);
    w_int(w, -1);
    w_int(w, flags);
    fputc('t', w->fp);
    w_put(w);
    fputc('b', w->fp);
    return id;
}

void npy_pickle_write(FILE *fp, int ndim, const int64_t *shape, const NpyPickleCell *cells) {
    if (ndim < 1 || ndim > NPY_PICKLE_MAX_DIMS) fatal("pickle writer: %d dimensions", ndim);
    Writer w = {fp, 0};
    size_t count = 1;
    for (int k = 0; k < ndim; k++) count *= (size_t)shape[k];
    fputs("\x80\x03", fp);
    uint32_t g_reconstruct = w.memo;
    fputs("cnumpy.core.multiarray\n_reconstruct\n", fp);
    w_put(&w);
    uint32_t g_ndarray = w.memo;
    fputs("cnumpy\nndarray\n", fp);
    w_put(&w);
    w_int(&w, 0);
    fputc(0x85, fp);
    w_put(&w);
    uint32_t b_tag = w.memo;
    w_bytes_begin(&w, 1);
    fputc('b', fp);
    w_put(&w);
    fputc(0x87, fp);
    w_put(&w);
    fputc('R', fp);
    w_put(&w);
    fputc('(', fp);
    w_int(&w, 1);
    w_shape(&w, ndim, shape);
    int64_t g_dtype = -1;
    w_dtype(&w, &g_dtype, "O8", "|", 63);
    fputc(0x89, fp);
    fputc(']', fp);
    w_put(&w);
    /* Python shares one int64 dtype object and one empty bytes object among
     * all cells, so after the first time they are memo references. */
    int64_t have_i8 = -1, have_empty = -1;
    for (size_t start = 0; start < count; start += 1000) {
        size_t end = count - start > 1000 ? start + 1000 : count;
        if (end - start > 1) fputc('(', fp);
        for (size_t c = start; c < end; c++) {
            w_get(&w, g_reconstruct);
            w_get(&w, g_ndarray);
            w_int(&w, 0);
            fputc(0x85, fp);
            w_put(&w);
            w_get(&w, b_tag);
            fputc(0x87, fp);
            w_put(&w);
            fputc('R', fp);
            w_put(&w);
            fputc('(', fp);
            w_int(&w, 1);
            int64_t n = (int64_t)cells[c].n;
            w_shape(&w, 1, &n);
            if (have_i8 < 0)
                have_i8 = w_dtype(&w, &g_dtype, "i8", "<", 0);
            else
                w_get(&w, (uint32_t)have_i8);
            fputc(0x89, fp);
            if (cells[c].n == 0 && have_empty >= 0) {
                w_get(&w, (uint32_t)have_empty);
            } else {
                if (cells[c].n == 0) have_empty = w.memo;
                w_bytes_begin(&w, cells[c].n * 8);
                /* Little-endian int64, whatever the host. */
                uint8_t buf[8 * 256];
                size_t done = 0;
                while (done < cells[c].n) {
                    size_t k = cells[c].n - done < 256 ? cells[c].n - done : 256;
                    for (size_t i = 0; i < k; i++)
                        for (int b = 0; b < 8; b++)
                            buf[8 * i + b] = (uint8_t)((uint64_t)cells[c].v[done + i] >> (8 * b));
                    fwrite(buf, 8, k, fp);
                    done += k;
                }
                w_put(&w);
            }
            fputc('t', fp);
            w_put(&w);
            fputc('b', fp);
        }
        fputc(end - start > 1 ? 'e' : 'a', fp);
    }
    fputc('t', fp);
    w_put(&w);
    fputc('b', fp);
    fputc('.', fp);
}
