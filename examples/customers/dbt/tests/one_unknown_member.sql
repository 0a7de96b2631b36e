-- dim_customers holds exactly one unknown member, customer_id -1.
select count(*) as unknown_members
from {{ ref('dim_customers') }}
where is_unknown_member
having count(*) <> 1 or min(customer_id) <> -1 or max(customer_id) <> -1
