#!/usr/bin/env python3
"""The customer database service: a System of record behind the System
APIs of the demo and the tests.  Python's standard library only (sqlite3,
http.server).

    python3 services/system_db.py --db demo/run/system.db --port 8095
    python3 services/system_db.py --db /tmp/x.db --port 0 --port-file /tmp/p

The database file is created and seeded with three customers (c-42 Ada
Lovelace, c-43 Grace Hopper, c-44 Alan Turing) and three orders when it
has no customers.  Records are in the database's own names (cust_id,
full_name, email_addr, ...): the Process APIs translate.

    GET    /customers/ID          200 the record, ETag "vN"; 404
    PATCH  /customers/ID          a partial update (JSON object of writable
                                  fields; null clears internal_score);
                                  If-Match "vN": 412 when the record moved on
    PUT    /customers/ID          the whole record: 200 replaced, 201 created
    POST   /customers             201 created (cust_id optional; 409 if taken)
    GET    /orders?customer=ID    {"orders":[...],"customer":ID}; 404
    GET    /health                {"status":"up"}

Errors are application/problem+json: 400 invalid JSON, 404, 405, 409,
412, 413, 415, 422 (with "errors": [{"pointer", "detail"}]).  Every request
is logged with the X-Correlation-ID it carried.
"""

import datetime
import os
import re
import sqlite3
import sys
import threading
from urllib.parse import parse_qs, unquote, urlsplit

sys.dont_write_bytecode = True     # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service import Handler, Problem, options, serve  # noqa: E402

ID = re.compile(r"c-[0-9]{1,8}")
TIERS = ("bronze", "silver", "gold", "platinum")
EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+"
                   r"\.[^@\s\x00-\x1f\x7f]+")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# name: (required in a whole record, nullable)
FIELDS = {
    "full_name": (True, False),
    "email_addr": (True, False),
    "tier": (True, False),
    "since": (True, False),
    "internal_score": (False, True),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    cust_id         TEXT PRIMARY KEY,
    full_name       TEXT NOT NULL,
    email_addr      TEXT NOT NULL,
    tier            TEXT NOT NULL,
    since           TEXT NOT NULL,
    internal_score  INTEGER,
    version         INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS orders (
    id              TEXT PRIMARY KEY,
    cust_id         TEXT NOT NULL REFERENCES customers (cust_id),
    total_cents     INTEGER NOT NULL,
    status          TEXT NOT NULL
);
"""

SEED_CUSTOMERS = [
    ("c-42", "Ada Lovelace", "ada@example.com", "gold", "2019-04-01", 87),
    ("c-43", "Grace Hopper", "grace@example.com", "silver", "2020-09-15",
     74),
    ("c-44", "Alan Turing", "alan@example.com", "bronze", "2021-06-23", 61),
]

SEED_ORDERS = [
    ("o-1001", "c-42", 4250, "open"),
    ("o-1002", "c-42", 1999, "shipped"),
    ("o-1003", "c-43", 725, "delivered"),
]


class Store:
    """One sqlite3 connection shared by the server's threads, one
    transaction at a time."""

    def __init__(self, path):
        self.db = sqlite3.connect(path, check_same_thread=False,
                                  isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.lock = threading.Lock()
        with self.lock:
            self.db.executescript(SCHEMA)
            if not self.db.execute("SELECT 1 FROM customers").fetchone():
                self.db.execute("BEGIN")
                self.db.executemany(
                    "INSERT INTO customers (cust_id, full_name, email_addr,"
                    " tier, since, internal_score) VALUES (?,?,?,?,?,?)",
                    SEED_CUSTOMERS)
                self.db.executemany(
                    "INSERT INTO orders VALUES (?,?,?,?)", SEED_ORDERS)
                self.db.execute("COMMIT")

    def transaction(self, work):
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                result = work(self.db)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
            return result


def record(row):
    return {"cust_id": row["cust_id"], "full_name": row["full_name"],
            "email_addr": row["email_addr"], "tier": row["tier"],
            "since": row["since"], "internal_score": row["internal_score"]}


def etag(row):
    return '"v%d"' % row["version"]


def check_field(name, value, errors):
    required, nullable = FIELDS[name]
    pointer = "/" + name
    if value is None:
        if not nullable:
            errors.append({"pointer": pointer, "detail": "may not be null"})
        return
    if name == "internal_score":
        if (not isinstance(value, int) or isinstance(value, bool)
                or not 0 <= value <= 100):
            errors.append({"pointer": pointer,
                           "detail": "must be an integer from 0 to 100"})
        return
    if not isinstance(value, str):
        errors.append({"pointer": pointer, "detail": "must be a string"})
    elif name == "full_name":
        if not value.strip() or len(value) > 200 or CONTROL.search(value):
            errors.append({"pointer": pointer, "detail":
                           "must be 1 to 200 characters, no control "
                           "characters"})
    elif name == "email_addr":
        if len(value) > 254 or not EMAIL.fullmatch(value):
            errors.append({"pointer": pointer,
                           "detail": "must be an email address"})
    elif name == "tier":
        if value not in TIERS:
            errors.append({"pointer": pointer,
                           "detail": "must be one of " + ", ".join(TIERS)})
    elif name == "since":
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
                raise ValueError
            datetime.date.fromisoformat(value)
        except ValueError:
            errors.append({"pointer": pointer,
                           "detail": "must be a date YYYY-MM-DD"})


def validate(doc, whole, cust_id=None):
    """The writable fields of doc, checked; Problem 422 lists every bad
    one.  whole: a whole record (PUT, POST), else a partial update."""
    errors = []
    for name, value in doc.items():
        if name == "cust_id":
            if cust_id is not None and value != cust_id:
                errors.append({"pointer": "/cust_id",
                               "detail": "does not match the URI"})
            elif cust_id is None and not (isinstance(value, str)
                                          and ID.fullmatch(value)):
                errors.append({"pointer": "/cust_id",
                               "detail": "must look like c-123"})
        elif name not in FIELDS:
            errors.append({"pointer": "/" + name.replace("~", "~0")
                           .replace("/", "~1")[:64],
                           "detail": "unknown field"})
        else:
            check_field(name, value, errors)
    if whole:
        for name, (required, _) in FIELDS.items():
            if required and name not in doc:
                errors.append({"pointer": "/" + name,
                               "detail": "is required"})
    if errors:
        raise Problem(422, "invalid_customer", "Invalid customer",
                      "the customer record is not valid", errors=errors)
    return {k: v for k, v in doc.items() if k in FIELDS}


def not_found(what):
    return Problem(404, "not_found", "Not found", "no such %s" % what)


class SystemDb(Handler):
    service = "customers-db"
    store = None

    def route(self):
        url = urlsplit(self.path)
        path = unquote(url.path)
        m = re.fullmatch(r"/customers/([^/]*)", path)
        if m:
            return self.customer(m.group(1))
        if path == "/customers":
            self.allow("POST")
            return self.create(self.json_body())
        if path == "/orders":
            self.allow("GET", "HEAD")
            return self.orders(parse_qs(url.query))
        if path == "/health":
            self.allow("GET", "HEAD")
            return 200, {"status": "up"}, None
        raise Problem(404, "not_found", "Not found", "no such resource")

    def allow(self, *methods):
        if self.command not in methods:
            raise Problem(405, "method_not_allowed", "Method not allowed",
                          "%s is not allowed here" % self.command,
                          headers={"Allow": ", ".join(methods)})

    def customer(self, cust_id):
        self.allow("GET", "HEAD", "PATCH", "PUT")
        if self.command == "PUT":
            if not ID.fullmatch(cust_id):
                raise Problem(422, "invalid_customer", "Invalid customer",
                              "a customer id looks like c-123")
            return self.replace(cust_id, self.json_body())
        if not ID.fullmatch(cust_id):
            raise not_found("customer")
        if self.command == "PATCH":
            return self.update(cust_id, self.json_body(
                kinds=("application/json", "application/merge-patch+json")))
        row = self.store.transaction(lambda db: db.execute(
            "SELECT * FROM customers WHERE cust_id = ?",
            (cust_id,)).fetchone())
        if row is None:
            raise not_found("customer")
        return 200, record(row), {"ETag": etag(row)}

    def check_preconditions(self, row):
        """If-Match (the version the client read) and If-None-Match: *
        (create only)."""
        want = self.headers.get("If-Match")
        if want is not None and want.strip() != "*":
            tags = [t.strip() for t in want.split(",")]
            if row is None or etag(row) not in tags:
                raise Problem(412, "precondition_failed",
                              "Precondition failed",
                              "the record changed since it was read"
                              if row else "no such customer",
                              headers={"ETag": etag(row)} if row else None)
        elif want is not None and row is None:
            raise Problem(412, "precondition_failed", "Precondition failed",
                          "no such customer")
        if self.headers.get("If-None-Match", "").strip() == "*" and row:
            raise Problem(412, "precondition_failed", "Precondition failed",
                          "the customer exists", headers={"ETag": etag(row)})

    def update(self, cust_id, doc):
        fields = validate(doc, whole=False, cust_id=cust_id)

        def work(db):
            row = db.execute("SELECT * FROM customers WHERE cust_id = ?",
                             (cust_id,)).fetchone()
            if row is None:
                raise not_found("customer")
            self.check_preconditions(row)
            if fields:
                sets = ", ".join("%s = ?" % k for k in fields)
                db.execute("UPDATE customers SET %s, version = version + 1"
                           " WHERE cust_id = ?" % sets,
                           list(fields.values()) + [cust_id])
            return db.execute("SELECT * FROM customers WHERE cust_id = ?",
                              (cust_id,)).fetchone()

        row = self.store.transaction(work)
        return 200, record(row), {"ETag": etag(row)}

    def replace(self, cust_id, doc):
        fields = validate(doc, whole=True, cust_id=cust_id)
        fields.setdefault("internal_score", None)

        def work(db):
            row = db.execute("SELECT * FROM customers WHERE cust_id = ?",
                             (cust_id,)).fetchone()
            self.check_preconditions(row)
            if row is None:
                insert(db, cust_id, fields)
                status = 201
            else:
                db.execute("UPDATE customers SET full_name = ?,"
                           " email_addr = ?, tier = ?, since = ?,"
                           " internal_score = ?, version = version + 1"
                           " WHERE cust_id = ?",
                           (fields["full_name"], fields["email_addr"],
                            fields["tier"], fields["since"],
                            fields["internal_score"], cust_id))
                status = 200
            return status, db.execute(
                "SELECT * FROM customers WHERE cust_id = ?",
                (cust_id,)).fetchone()

        status, row = self.store.transaction(work)
        headers = {"ETag": etag(row)}
        if status == 201:
            headers["Location"] = "/customers/" + cust_id
        return status, record(row), headers

    def create(self, doc):
        fields = validate(doc, whole=True)
        fields.setdefault("internal_score", None)

        def work(db):
            cust_id = doc.get("cust_id")
            if cust_id is None:
                last = db.execute(
                    "SELECT MAX(CAST(SUBSTR(cust_id, 3) AS INTEGER))"
                    " FROM customers").fetchone()[0] or 0
                cust_id = "c-%d" % (last + 1)
            elif db.execute("SELECT 1 FROM customers WHERE cust_id = ?",
                            (cust_id,)).fetchone():
                raise Problem(409, "conflict", "Conflict",
                              "customer %s exists" % cust_id,
                              headers={"Location": "/customers/" + cust_id})
            insert(db, cust_id, fields)
            return db.execute("SELECT * FROM customers WHERE cust_id = ?",
                              (cust_id,)).fetchone()

        row = self.store.transaction(work)
        return 201, record(row), {"ETag": etag(row),
                                  "Location": "/customers/" + row["cust_id"]}

    def orders(self, query):
        cust_id = query.get("customer", [""])[0]
        if not cust_id:
            raise Problem(400, "bad_request", "Bad request",
                          "the customer parameter is required")

        def work(db):
            if not ID.fullmatch(cust_id) or not db.execute(
                    "SELECT 1 FROM customers WHERE cust_id = ?",
                    (cust_id,)).fetchone():
                raise not_found("customer")
            return db.execute("SELECT * FROM orders WHERE cust_id = ?"
                              " ORDER BY id", (cust_id,)).fetchall()

        rows = self.store.transaction(work)
        return 200, {"orders": [{"id": r["id"],
                                 "total": r["total_cents"] / 100,
                                 "status": r["status"]} for r in rows],
                     "customer": cust_id}, None


def insert(db, cust_id, fields):
    db.execute("INSERT INTO customers (cust_id, full_name, email_addr, tier,"
               " since, internal_score) VALUES (?,?,?,?,?,?)",
               (cust_id, fields["full_name"], fields["email_addr"],
                fields["tier"], fields["since"], fields["internal_score"]))


def main():
    ap = options("The customer database service (sqlite3).", 8095)
    ap.add_argument("--db", required=True,
                    help="the sqlite3 file (created and seeded if empty)")
    args = ap.parse_args()
    try:
        SystemDb.store = Store(args.db)
    except sqlite3.Error as e:
        sys.stderr.write("system_db: %s: %s\n" % (args.db, e))
        sys.exit(1)
    serve("system_db", SystemDb, args, " (db %s)" % args.db)


if __name__ == "__main__":
    main()
