-- One row per invoice day: what was sold, what was cancelled, and the net.
select
    invoice_date,
    count(distinct case when not is_cancellation then invoice_no end) as invoices,
    count(distinct case when is_cancellation then invoice_no end) as cancelled_invoices,
    count(*) as invoice_lines,
    sum(case when is_cancellation then 1 else 0 end) as cancellation_lines,
    count(distinct customer_id) as customers,
    sum(case when is_cancellation then 0 else line_total end) as gross_revenue,
    sum(case when is_cancellation then line_total else 0 end) as cancelled_revenue,
    sum(line_total) as net_revenue
from {{ ref('fact_invoice_lines') }}
group by invoice_date
