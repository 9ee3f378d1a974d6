# Runtime tests: cmocka units for the registry, critical sections and configuration, and
# whole-process checkpoints of a multi-threaded program (tests/runtime/).
foreach(t registry cs config)
  add_executable(test_rt_${t} ${CMAKE_CURRENT_SOURCE_DIR}/runtime/test_${t}.c)
  target_link_libraries(test_rt_${t} PRIVATE crsnap_static PkgConfig::CMOCKA)
  add_test(NAME runtime_${t} COMMAND test_rt_${t})
  set_tests_properties(runtime_${t} PROPERTIES ENVIRONMENT "${CRS_TEST_ENV}" TIMEOUT 60)
endforeach()

# Whole-process: rt_prog checkpoints itself in several ways and checks what its handlers saw,
# the images, and its computed results; rt_ctl drives the control socket from outside.
add_executable(rt_prog ${CMAKE_CURRENT_SOURCE_DIR}/runtime/rt_prog.c)
target_link_libraries(rt_prog PRIVATE crsnap_shared Threads::Threads)
add_executable(rt_ctl ${CMAKE_CURRENT_SOURCE_DIR}/runtime/rt_ctl.c)
set(CRS_RT_TMP ${CMAKE_BINARY_DIR}/test-tmp/runtime)
file(MAKE_DIRECTORY ${CRS_RT_TMP})
foreach(mode api timer signal blocked cs_stuck sigmask veto fsize)
  add_test(NAME runtime_ckpt_${mode} COMMAND rt_prog ${mode})
  set_tests_properties(runtime_ckpt_${mode} PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77
    ENVIRONMENT "${CRS_TEST_ENV};CRSNAP_DIR=${CRS_RT_TMP}/${mode};CRSNAP_KEEP=0")
endforeach()
set_property(TEST runtime_ckpt_timer APPEND PROPERTY ENVIRONMENT "CRSNAP_INTERVAL=0.25")
set_property(TEST runtime_ckpt_signal APPEND PROPERTY ENVIRONMENT "CRSNAP_SIGNAL=USR1")
set_property(TEST runtime_ckpt_blocked APPEND PROPERTY ENVIRONMENT "CRSNAP_QUIESCE_TIMEOUT_MS=300")
set_property(TEST runtime_ckpt_cs_stuck APPEND PROPERTY ENVIRONMENT "CRSNAP_QUIESCE_TIMEOUT_MS=300")
set_property(TEST runtime_ckpt_api APPEND PROPERTY ENVIRONMENT "CRSNAP_FORCE_PWRITE=1")
add_test(NAME runtime_ckpt_unwritable
  COMMAND rt_prog unwritable ${CRS_RT_TMP}/unwritable-good.crsnap)
set_tests_properties(runtime_ckpt_unwritable PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77
  ENVIRONMENT "${CRS_TEST_ENV};CRSNAP_DIR=/dev/null/crsnap-images")
add_test(NAME runtime_control COMMAND rt_ctl $<TARGET_FILE:rt_prog> ${CRS_RT_TMP}/control)
set_tests_properties(runtime_control PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77
  ENVIRONMENT "${CRS_TEST_ENV}")

# The restart side: checkpoint, `crsnap restore`, and the restored program checks itself.
add_test(NAME runtime_restart
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/runtime/restart.sh $<TARGET_FILE:rt_prog>)
set_tests_properties(runtime_restart PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77
  ENVIRONMENT "${CRS_TEST_ENV};CRSNAP_DIR=${CRS_RT_TMP}/restart;CRSNAP_KEEP=0;CRSNAP_SOCKET_DIR=${CRS_RT_TMP}/restart-sock")

# The preload constructor: a program that never calls crsnap is checkpointed by the timer;
# a bad setting is reported and the program runs without checkpoints.
if(NOT CRSNAP_SANITIZE)
  add_executable(rt_plain ${CMAKE_CURRENT_SOURCE_DIR}/runtime/rt_plain.c)
  target_link_libraries(rt_plain PRIVATE Threads::Threads)
  add_test(NAME runtime_preload
    COMMAND sh -c "rm -rf '${CRS_RT_TMP}/preload' && exec '$<TARGET_FILE:rt_plain>' wait")
  set_tests_properties(runtime_preload PROPERTIES TIMEOUT 60 ENVIRONMENT
    "${CRS_TEST_ENV};LD_PRELOAD=$<TARGET_FILE:crsnap_shared>;CRSNAP_DIR=${CRS_RT_TMP}/preload;CRSNAP_INTERVAL=0.2")
  add_test(NAME runtime_preload_pid COMMAND rt_plain child)
  set_tests_properties(runtime_preload_pid PROPERTIES TIMEOUT 60 ENVIRONMENT
    "${CRS_TEST_ENV};LD_PRELOAD=$<TARGET_FILE:crsnap_shared>;CRSNAP_DIR=${CRS_RT_TMP}/preload-pid;CRSNAP_SOCKET_DIR=${CRS_RT_TMP}/preload-pid-sock")
  add_test(NAME runtime_preload_pid_alone COMMAND rt_plain child)
  set_tests_properties(runtime_preload_pid_alone PROPERTIES TIMEOUT 60 ENVIRONMENT
    "${CRS_TEST_ENV};LD_PRELOAD=$<TARGET_FILE:crsnap_shared>;CRSNAP_TREE=0;CRSNAP_DIR=${CRS_RT_TMP}/preload-alone;CRSNAP_SOCKET_DIR=${CRS_RT_TMP}/preload-alone-sock")
  add_test(NAME runtime_preload_bad_env COMMAND rt_plain run)
  set_tests_properties(runtime_preload_bad_env PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "invalid CRSNAP_INTERVAL \"soon\".*rt_plain: done"
    ENVIRONMENT "${CRS_TEST_ENV};LD_PRELOAD=$<TARGET_FILE:crsnap_shared>;CRSNAP_DIR=${CRS_RT_TMP}/preload-bad;CRSNAP_INTERVAL=soon")
endif()

# What the runtime hands the snapshot child, checked in the image it writes: file offsets of
# the instant the threads stopped, and regions the program marked MADV_DONTFORK.
add_executable(rt_image ${CMAKE_CURRENT_SOURCE_DIR}/runtime/rt_image.c)
target_link_libraries(rt_image PRIVATE crsnap_static Threads::Threads)
foreach(mode fdpos dontfork)
  add_test(NAME runtime_image_${mode} COMMAND rt_image ${mode})
  set_tests_properties(runtime_image_${mode} PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77
    ENVIRONMENT "${CRS_TEST_ENV};CRSNAP_DIR=${CRS_RT_TMP}/image-${mode};CRSNAP_KEEP=0")
endforeach()
