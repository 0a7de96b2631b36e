-- The latest version of each transaction, by updated_at, with the status lowercased.
{{ config(unique_key='id') }}

with latest as (
    {{ shopflow.latest_versions(source('raw', 'transactions')) }}
)

select
    id,
    user_id,
    amount,
    lower(status) as status,
    created_at,
    updated_at
from latest
