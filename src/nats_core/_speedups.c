/* Optional accelerators for nats_core: the parser's MSG/HMSG fast path and the
 * frame of a plain publish, in C.
 *
 * scan_msgs(buf, pos, out, msg_class, client, cap) parses the well-formed
 * MSG and HMSG operations that follow one another in ``buf`` from ``pos``,
 * appends a ``msg_class`` instance per message to ``out`` (its fields set as
 * the pure-Python parser sets them, without calling __init__) and returns the
 * position after the last one it took.
 *
 * It stops, taking nothing more, at the first operation it does not accept
 * in full: another operation, an incomplete one, one with a status line in
 * its headers, and anything malformed. The Python parser then handles that
 * operation (and raises the errors), so both paths give the same result for
 * any input; the differential tests in tests/test_core_speedups.py check it.
 * No I/O, no state: a pure function of its arguments.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_CONTROL_LINE 4096
#define MAX_ARGS 5

static PyObject *s_subject, *s_reply, *s_data, *s_headers, *s_sid, *s_client, *s_empty;

/* bytes.split() splits on these (ASCII whitespace). */
static inline int
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x0b' || c == '\x0c';
}

/* A token of 1-18 ASCII digits, as the Python parser accepts; -1 otherwise. */
static inline long long
parse_num(const char *s, Py_ssize_t len)
{
    long long v = 0;
    if (len < 1 || len > 18)
        return -1;
    for (Py_ssize_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

static inline int
set_field(PyObject *m, PyObject *name, PyObject *value)
{
    int r;
    if (value == NULL)
        return -1;
    r = PyObject_SetAttr(m, name, value);
    Py_DECREF(value);
    return r;
}

static PyObject *
scan_msgs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *bufobj, *out, *msg_class, *client;
    Py_ssize_t pos, cap, n;
    const char *buf;

    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "scan_msgs() takes 6 arguments");
        return NULL;
    }
    bufobj = args[0];
    out = args[2];
    msg_class = args[3];
    client = args[4];
    if (!PyBytes_CheckExact(bufobj) || !PyList_CheckExact(out) || !PyType_Check(msg_class)) {
        PyErr_SetString(PyExc_TypeError, "scan_msgs(bytes, int, list, type, object, int)");
        return NULL;
    }
    pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred())
        return NULL;
    cap = PyLong_AsSsize_t(args[5]);
    if (cap == -1 && PyErr_Occurred())
        return NULL;
    buf = PyBytes_AS_STRING(bufobj);
    n = PyBytes_GET_SIZE(bufobj);
    PyTypeObject *tp = (PyTypeObject *)msg_class;

    while (pos < n) {
        Py_ssize_t start, limit, idx, hdr;
        const char *line;
        Py_ssize_t tok_at[MAX_ARGS], tok_len[MAX_ARGS];
        int ntok = 0, headers;

        if (n - pos >= 4 && memcmp(buf + pos, "MSG ", 4) == 0) {
            headers = 0;
            start = pos + 4;
        } else if (n - pos >= 5 && memcmp(buf + pos, "HMSG ", 5) == 0) {
            headers = 1;
            start = pos + 5;
        } else {
            break;
        }
        /* The control line ends at the first CRLF, within the length limit. */
        limit = pos + MAX_CONTROL_LINE + 2;
        if (limit > n)
            limit = n;
        idx = -1;
        for (Py_ssize_t i = start; i + 1 < limit; i++) {
            const char *cr = memchr(buf + i, '\r', (size_t)(limit - 1 - i));
            if (cr == NULL)
                break;
            i = cr - buf;
            if (buf[i + 1] == '\n') {
                idx = i;
                break;
            }
        }
        if (idx < 0 || idx - pos > MAX_CONTROL_LINE)
            break;
        /* Split the arguments on whitespace, as bytes.split() does. */
        line = buf;
        {
            Py_ssize_t i = start;
            while (i < idx) {
                while (i < idx && is_space((unsigned char)line[i]))
                    i++;
                if (i >= idx)
                    break;
                if (ntok == MAX_ARGS) {
                    ntok = -1;
                    break;
                }
                tok_at[ntok] = i;
                while (i < idx && !is_space((unsigned char)line[i]))
                    i++;
                tok_len[ntok] = i - tok_at[ntok];
                ntok++;
            }
        }
        int has_reply;
        if (!headers && (ntok == 3 || ntok == 4))
            has_reply = ntok == 4;
        else if (headers && (ntok == 4 || ntok == 5))
            has_reply = ntok == 5;
        else
            break;
        long long sid = parse_num(buf + tok_at[1], tok_len[1]);
        long long size = parse_num(buf + tok_at[ntok - 1], tok_len[ntok - 1]);
        long long hsize = 0;
        if (sid < 0 || size < 0 || size > cap)
            break;
        if (headers) {
            hsize = parse_num(buf + tok_at[ntok - 2], tok_len[ntok - 2]);
            if (hsize < 0 || hsize > size)
                break;
        }
        Py_ssize_t body = idx + 2;
        if ((long long)(n - body) < size + 2)
            break; /* incomplete: the Python parser keeps it for the next feed */
        Py_ssize_t end = body + (Py_ssize_t)size;
        if (buf[end] != '\r' || buf[end + 1] != '\n')
            break;
        hdr = (Py_ssize_t)hsize;
        if (headers) {
            /* Only a plain "NATS/1.0\r\n" first line (no status) ending in CRLF CRLF. */
            if (hdr < 12 || memcmp(buf + body, "NATS/1.0\r\n", 10) != 0 ||
                memcmp(buf + body + hdr - 4, "\r\n\r\n", 4) != 0)
                break;
        }
        PyObject *subject = PyUnicode_DecodeUTF8(buf + tok_at[0], tok_len[0], NULL);
        if (subject == NULL) {
            PyErr_Clear();
            break;
        }
        PyObject *reply;
        if (has_reply) {
            reply = PyUnicode_DecodeUTF8(buf + tok_at[2], tok_len[2], NULL);
            if (reply == NULL) {
                PyErr_Clear();
                Py_DECREF(subject);
                break;
            }
        } else {
            reply = Py_NewRef(s_empty);
        }
        PyObject *m = tp->tp_alloc(tp, 0);
        if (m == NULL) {
            Py_DECREF(subject);
            Py_DECREF(reply);
            return NULL;
        }
        if (set_field(m, s_subject, subject) < 0 || set_field(m, s_reply, reply) < 0 ||
            set_field(m, s_data, PyBytes_FromStringAndSize(buf + body + hdr, (Py_ssize_t)size - hdr)) < 0 ||
            set_field(m, s_headers,
                      headers ? PyBytes_FromStringAndSize(buf + body, hdr) : Py_NewRef(Py_None)) < 0 ||
            set_field(m, s_sid, PyLong_FromLongLong(sid)) < 0 ||
            set_field(m, s_client, Py_NewRef(client)) < 0 || PyList_Append(out, m) < 0) {
            Py_DECREF(m);
            return NULL;
        }
        Py_DECREF(m);
        pos = end + 2;
    }
    return PyLong_FromSsize_t(pos);
}

/* pub_frame(sb, payload) -> b"PUB <sb> <len>\r\n<payload>\r\n": the frame of a
 * plain publish, as the core's %-format builds it, in one allocation. */
static PyObject *
pub_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    char num[24];
    if (nargs != 2 || !PyBytes_CheckExact(args[0]) || !PyBytes_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "pub_frame(bytes, bytes)");
        return NULL;
    }
    Py_ssize_t slen = PyBytes_GET_SIZE(args[0]);
    Py_ssize_t plen = PyBytes_GET_SIZE(args[1]);
    int nlen = snprintf(num, sizeof num, "%zd", plen);
    PyObject *r = PyBytes_FromStringAndSize(NULL, 4 + slen + 1 + nlen + 2 + plen + 2);
    if (r == NULL)
        return NULL;
    char *p = PyBytes_AS_STRING(r);
    memcpy(p, "PUB ", 4);
    p += 4;
    memcpy(p, PyBytes_AS_STRING(args[0]), (size_t)slen);
    p += slen;
    *p++ = ' ';
    memcpy(p, num, (size_t)nlen);
    p += nlen;
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, PyBytes_AS_STRING(args[1]), (size_t)plen);
    p += plen;
    *p++ = '\r';
    *p = '\n';
    return r;
}

static PyMethodDef methods[] = {
    {"pub_frame", (PyCFunction)(void (*)(void))pub_frame, METH_FASTCALL,
     "pub_frame(subject_bytes, payload) -> the PUB frame of a plain publish."},
    {"scan_msgs", (PyCFunction)(void (*)(void))scan_msgs, METH_FASTCALL,
     "scan_msgs(buf, pos, out, msg_class, client, cap) -> pos: parse the "
     "well-formed MSG/HMSG operations from pos into out; stop at anything else."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "nats_core._speedups",
    "Optional C fast path of the NATS parser (see nats_core._parser).", -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    s_subject = PyUnicode_InternFromString("subject");
    s_reply = PyUnicode_InternFromString("reply");
    s_data = PyUnicode_InternFromString("data");
    s_headers = PyUnicode_InternFromString("_headers");
    s_sid = PyUnicode_InternFromString("sid");
    s_client = PyUnicode_InternFromString("_client");
    s_empty = PyUnicode_FromStringAndSize("", 0);
    if (!s_subject || !s_reply || !s_data || !s_headers || !s_sid || !s_client || !s_empty)
        return NULL;
    return PyModule_Create(&module);
}
