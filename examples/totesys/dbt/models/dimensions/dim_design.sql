with design as (
    {{ latest_rows(source('raw', 'design'), 'design_id') }}
)

select
    cast(design_id as integer) as design_id,
    design_name,
    file_location,
    file_name
from design
