-- The totesys OLTP schema (seed 002), as shopflow's demo loader creates it:
-- `python -c "from shopflow.demo.totesys_snapshot import load_snapshot; load_snapshot(URL)"`.
-- Typed like the real totesys: serial ids, timestamp created_at/last_updated (millisecond values),
-- dates as text. Money is numeric(10,2); a numeric without a precision would be read as text by
-- shopflow, to keep every digit.

CREATE TABLE IF NOT EXISTS "address" (
    address_id     serial PRIMARY KEY,
    address_line_1 varchar,
    address_line_2 varchar,
    district       varchar,
    city           varchar,
    postal_code    varchar,
    country        varchar,
    phone          varchar,
    created_at     timestamp NOT NULL,
    last_updated   timestamp NOT NULL
);

CREATE TABLE IF NOT EXISTS "counterparty" (
    counterparty_id         serial PRIMARY KEY,
    counterparty_legal_name varchar,
    legal_address_id        int,
    commercial_contact      varchar,
    delivery_contact        varchar,
    created_at              timestamp NOT NULL,
    last_updated            timestamp NOT NULL
);

CREATE TABLE IF NOT EXISTS "currency" (
    currency_id   serial PRIMARY KEY,
    currency_code varchar(3),
    created_at    timestamp NOT NULL,
    last_updated  timestamp NOT NULL
);

CREATE TABLE IF NOT EXISTS "department" (
    department_id   serial PRIMARY KEY,
    department_name varchar,
    location        varchar,
    manager         varchar,
    created_at      timestamp NOT NULL,
    last_updated    timestamp NOT NULL
);

CREATE TABLE IF NOT EXISTS "design" (
    design_id     serial PRIMARY KEY,
    created_at    timestamp NOT NULL,
    design_name   varchar,
    file_location varchar,
    file_name     varchar,
    last_updated  timestamp NOT NULL
);

CREATE TABLE IF NOT EXISTS "payment_type" (
    payment_type_id   serial PRIMARY KEY,
    payment_type_name varchar,
    created_at        timestamp NOT NULL,
    last_updated      timestamp NOT NULL
);

CREATE TABLE IF NOT EXISTS "purchase_order" (
    purchase_order_id           serial PRIMARY KEY,
    created_at                  timestamp NOT NULL,
    last_updated                timestamp NOT NULL,
    staff_id                    int,
    counterparty_id             int,
    item_code                   varchar,
    item_quantity               int,
    item_unit_price             numeric(10,2),
    currency_id                 int,
    agreed_delivery_date        varchar,
    agreed_payment_date         varchar,
    agreed_delivery_location_id int
);

CREATE TABLE IF NOT EXISTS "sales_order" (
    sales_order_id              serial PRIMARY KEY,
    created_at                  timestamp NOT NULL,
    last_updated                timestamp NOT NULL,
    design_id                   int,
    staff_id                    int,
    counterparty_id             int,
    units_sold                  int,
    unit_price                  numeric(10,2),
    currency_id                 int,
    agreed_delivery_date        varchar,
    agreed_payment_date         varchar,
    agreed_delivery_location_id int
);

CREATE TABLE IF NOT EXISTS "staff" (
    staff_id      serial PRIMARY KEY,
    first_name    varchar,
    last_name     varchar,
    department_id int,
    email_address varchar,
    created_at    timestamp NOT NULL,
    last_updated  timestamp NOT NULL
);

CREATE TABLE IF NOT EXISTS "transaction" (
    transaction_id    serial PRIMARY KEY,
    transaction_type  varchar,
    sales_order_id    int,
    purchase_order_id int,
    created_at        timestamp NOT NULL,
    last_updated      timestamp NOT NULL
);

CREATE TABLE IF NOT EXISTS "payment" (
    payment_id             serial PRIMARY KEY,
    created_at             timestamp NOT NULL,
    last_updated           timestamp NOT NULL,
    transaction_id         int,
    counterparty_id        int,
    payment_amount         numeric(10,2),
    currency_id            int,
    payment_type_id        int,
    paid                   boolean,
    payment_date           varchar,
    company_ac_number      int,
    counterparty_ac_number int
);
