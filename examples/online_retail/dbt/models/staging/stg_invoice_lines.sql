-- One row per loaded invoice line, cleaned and typed; every mart reads this view.
with source as (
    select * from {{ source('raw', 'invoice_lines') }}
)

select
    md5(_sf_row_id) as invoice_line_id,
    trim(invoice_no) as invoice_no,
    -- A cancelled invoice repeats the original's number with a 'C' in front.
    coalesce(upper(left(trim(invoice_no), 1)) = 'C', false) as is_cancellation,
    trim(stock_code) as stock_code,
    nullif(trim(description), '') as description,
    quantity,
    unit_price,
    -- Exact: decimal times integer, never a float.
    cast(cast(quantity as decimal(18, 0)) * unit_price as decimal(18, 3)) as line_total,
    {{ invoice_timestamp('invoice_date') }} as invoice_at,
    customer_id,
    case
        when country is null or trim(country) in ('', 'Unspecified') then 'Unknown'
        else trim(country)
    end as country,
    _sf_file as source_file,
    _sf_loaded_at as loaded_at
from source
