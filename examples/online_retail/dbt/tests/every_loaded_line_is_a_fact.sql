-- Nothing is dropped between the raw table and the fact: one fact row per raw row.
select raw_lines, fact_lines
from (select count(*) as raw_lines from {{ source('raw', 'invoice_lines') }}) as r
cross join (select count(*) as fact_lines from {{ ref('fact_invoice_lines') }}) as f
where raw_lines <> fact_lines
