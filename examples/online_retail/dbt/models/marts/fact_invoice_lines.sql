-- One row per invoice line: the grain of the star. Cancellation lines stay in (with their
-- negative quantities), so sums net out as the retailer's books do.
select
    invoice_line_id,
    invoice_no,
    is_cancellation,
    invoice_at,
    cast(invoice_at as date) as invoice_date,
    stock_code,
    customer_id,
    country,
    quantity,
    unit_price,
    line_total,
    source_file
from {{ ref('stg_invoice_lines') }}
