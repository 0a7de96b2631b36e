-- One row per invoice day, from the streamed lines: the batch path's daily_revenue, per store too.
with lines as (
    select
        store,
        trim(invoice_no) as invoice_no,
        coalesce(upper(left(trim(invoice_no), 1)) = 'C', false) as is_cancellation,
        customer_id,
        cast(cast(trim(invoice_date) as timestamp) as date) as invoice_date,
        cast(cast(quantity as decimal(18, 0)) * unit_price as decimal(18, 3)) as line_total
    from {{ source('raw', 'invoice_lines') }}
)

select
    invoice_date,
    count(distinct store) as stores,
    count(distinct case when not is_cancellation then invoice_no end) as invoices,
    count(distinct case when is_cancellation then invoice_no end) as cancelled_invoices,
    count(*) as invoice_lines,
    count(distinct customer_id) as customers,
    sum(case when is_cancellation then 0 else line_total end) as gross_revenue,
    sum(case when is_cancellation then line_total else 0 end) as cancelled_revenue,
    sum(line_total) as net_revenue
from lines
group by invoice_date
