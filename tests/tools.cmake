# The crsnap command (run, checkpoint, --help) and the examples. Whole-process tests are shell
# scripts in tests/tools/ driving the real binary; small C programs there are what they run.
set(CRS_TOOLS_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/tools)

add_executable(tools_probe ${CRS_TOOLS_TESTS}/probe.c)
add_executable(tools_fake_control ${CRS_TOOLS_TESTS}/fake_control.c)
add_executable(tools_steps ${CRS_TOOLS_TESTS}/steps.c)

# A statically linked program, which `crsnap run` must refuse, if this system has libc.a.
include(CheckCSourceCompiles)
set(CMAKE_REQUIRED_LINK_OPTIONS -static)
check_c_source_compiles("int main(void) { return 0; }" CRS_HAVE_STATIC_LIBC)
unset(CMAKE_REQUIRED_LINK_OPTIONS)
set(CRS_STATIC_PROGRAM "")
if(CRS_HAVE_STATIC_LIBC AND NOT CRSNAP_SANITIZE)
  add_executable(tools_static_hello ${CRS_TOOLS_TESTS}/static_hello.c)
  target_link_options(tools_static_hello PRIVATE -static)
  set(CRS_STATIC_PROGRAM $<TARGET_FILE:tools_static_hello>)
endif()

function(crs_tools_test name script)
  crs_script_test(${name} ${CRS_TOOLS_TESTS} 60 ${script} ${ARGN})
endfunction()

# The escaping of image strings, on its own.
add_executable(tools_test_escape ${CRS_TOOLS_TESTS}/test_escape.c ${CMAKE_SOURCE_DIR}/common/escape.c)
target_include_directories(tools_test_escape PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(tools_test_escape PRIVATE PkgConfig::CMOCKA)
add_test(NAME tools_escape COMMAND tools_test_escape)

crs_tools_test(tools_help help.sh)
crs_tools_test(tools_run_status run_status.sh $<TARGET_FILE:tools_probe>)
crs_tools_test(tools_run_errors run_errors.sh $<TARGET_FILE:tools_probe> ${CRS_STATIC_PROGRAM})
crs_tools_test(tools_checkpoint_errors checkpoint_errors.sh $<TARGET_FILE:tools_probe>)
crs_tools_test(tools_checkpoint_protocol checkpoint_protocol.sh $<TARGET_FILE:tools_fake_control>)
crs_tools_test(tools_checkpoint_live checkpoint_live.sh $<TARGET_FILE:tools_probe>)
crs_tools_test(tools_run_live run_live.sh $<TARGET_FILE:tools_probe>)
# The image writer trusts only the user's own directory (as two unprivileged users; skips
# without root).
crs_tools_test(tools_imgdir_trust imgdir_trust.sh $<TARGET_FILE:tools_probe>)
set_tests_properties(tools_imgdir_trust PROPERTIES TIMEOUT 300)
crs_tools_test(tools_trust_read trust_read.sh $<TARGET_FILE:tools_probe> $<TARGET_FILE:image_make>)
crs_tools_test(tools_trust_users trust_users.sh $<TARGET_FILE:tools_probe>)
crs_tools_test(tools_run_startup run_startup.sh $<TARGET_FILE:tools_probe>)
crs_tools_test(tools_run_exit_race run_exit_race.sh $<TARGET_FILE:tools_probe>)
set_tests_properties(tools_run_exit_race PROPERTIES TIMEOUT 180)
crs_tools_test(tools_run_closed_fds run_closed_fds.sh)
set_tests_properties(tools_run_closed_fds PROPERTIES TIMEOUT 300)
set_tests_properties(tools_run_startup PROPERTIES TIMEOUT 180)
# The control channel: no squatting its directory, no impostor, no stalling, no leftovers.
crs_tools_test(tools_control_slow control_slow.sh $<TARGET_FILE:tools_probe>)
set_tests_properties(tools_control_slow PROPERTIES TIMEOUT 120)
crs_tools_test(tools_control_stale control_stale.sh $<TARGET_FILE:tools_probe>)
crs_tools_test(tools_control_dir control_dir.sh $<TARGET_FILE:tools_probe>)
crs_tools_test(tools_control_squat control_squat.sh $<TARGET_FILE:tools_probe>
               $<TARGET_FILE:tools_fake_control>)
crs_tools_test(tools_run_resume run_resume.sh $<TARGET_FILE:tools_steps>)
crs_tools_test(tools_writer_fs writer_fs.sh $<TARGET_FILE:tools_steps>)
# A second exit-on signal while the first one's image is taken does not end the restored run.
add_executable(tools_slow_prepare ${CRS_TOOLS_TESTS}/slow_prepare.c)
target_link_libraries(tools_slow_prepare PRIVATE crsnap_shared)
crs_tools_test(tools_run_exit_twice run_exit_twice.sh $<TARGET_FILE:tools_slow_prepare>)
# A real one-node Slurm cluster, started and stopped by the test (root only; skipped otherwise).
crs_tools_test(tools_slurm_requeue slurm_requeue.sh $<TARGET_FILE:tools_steps>
               ${CMAKE_SOURCE_DIR}/examples/slurm/crsnap-job.sbatch)
set_tests_properties(tools_slurm_requeue PROPERTIES TIMEOUT 300)

# The examples, when the project builds them.
foreach(ex comm_layer simulation sigdump)
  if(TARGET ${ex})
    crs_tools_test(example_${ex} example_${ex}.sh $<TARGET_FILE:${ex}>)
  endif()
endforeach()

crs_tools_test(tools_install install.sh ${CMAKE_BINARY_DIR} $<TARGET_FILE:tools_probe>)

# The README's demo, shortened: run, checkpoint, ls, info, verify, kill, restore, same answer.
add_test(NAME tools_demo COMMAND sh -c
  "[ -n \"$CRSNAP_SANITIZED\" ] && exit 77; exec ${CMAKE_SOURCE_DIR}/scripts/demo.sh ${CMAKE_BINARY_DIR}")
set_tests_properties(tools_demo PROPERTIES
  ENVIRONMENT "${CRS_SCRIPT_ENV};CRSNAP_DEMO_ROUNDS=8000000" TIMEOUT 120 SKIP_RETURN_CODE 77)

# The library's binary interface: the API and nothing else.
add_test(NAME tools_abi COMMAND sh ${CRS_TOOLS_TESTS}/abi.sh $<TARGET_FILE:crsnap_shared>
         ${CMAKE_SOURCE_DIR}/runtime/libcrsnap.map ${CMAKE_SOURCE_DIR}/include/crsnap.h)
set_tests_properties(tools_abi PROPERTIES SKIP_RETURN_CODE 77)
# crsnap run -r trusts images as crsnap restore does (two unprivileged users; skips without root).
crs_tools_test(tools_resume_trust resume_trust.sh $<TARGET_FILE:tools_steps>)
# -s and CRSNAP_SIGNAL: the same values accepted and refused
crs_tools_test(tools_signal_values signal_values.sh $<TARGET_FILE:tools_probe>)
