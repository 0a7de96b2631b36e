-- One row per member of staff, with the name and location of their department.
with staff as (
    {{ shopflow.latest_versions(source('raw', 'staff'), 'staff_id', 'last_updated') }}
),

department as (
    {{ shopflow.latest_versions(source('raw', 'department'), 'department_id', 'last_updated') }}
)

select
    cast(staff.staff_id as integer) as staff_id,
    staff.first_name,
    staff.last_name,
    department.department_name,
    department.location,
    staff.email_address
from staff
left join department
    on department.department_id = staff.department_id
