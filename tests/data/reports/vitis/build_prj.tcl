# Vitis HLS build script written by nnhls.
# (trimmed for the report tests: only what nnhls.report reads)
set project_name myproject
if {$opt(reset)} { open_project -reset ${project_name}_prj } else { open_project ${project_name}_prj }
set_top ${project_name}
open_solution -reset -flow_target vivado solution1
set_part {xcvu9p-flga2104-2-e}
create_clock -period 4 -name default
set_clock_uncertainty 12.5%
