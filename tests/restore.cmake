# Restore: the restart entry on its own, the restorer's pure functions, and whole-process
# checkpoint / SIGKILL / restore runs of real programs (tests/restore/*.sh).
set(CRS_RESTORE_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/restore)

add_executable(restore_restart_selftest ${CRS_RESTORE_TESTS}/restart_selftest.c
               ${CRS_IMAGE_OBJECTS})
target_link_libraries(restore_restart_selftest PRIVATE PkgConfig::URING PkgConfig::ZSTD
                      PkgConfig::XXHASH Threads::Threads)
add_test(NAME restore_restart_entry COMMAND restore_restart_selftest)

add_executable(restore_units ${CRS_RESTORE_TESTS}/test_restore_units.c ${CRS_IMAGE_OBJECTS})
target_link_libraries(restore_units PRIVATE PkgConfig::CMOCKA PkgConfig::URING PkgConfig::ZSTD
                      PkgConfig::XXHASH Threads::Threads)
add_test(NAME restore_units COMMAND restore_units)

# Programs the whole-process tests run. They know nothing of crsnap, except api_static, which
# links libcrsnap.a and uses the API.
add_executable(restore_mt_worker ${CRS_RESTORE_TESTS}/mt_worker.c)
target_link_libraries(restore_mt_worker PRIVATE Threads::Threads m)
add_executable(restore_vdso_clock ${CRS_RESTORE_TESTS}/vdso_clock.c)
add_executable(restore_mapfile ${CRS_RESTORE_TESTS}/mapfile.c)
add_executable(restore_fds ${CRS_RESTORE_TESTS}/fds.c)
add_executable(restore_evwake ${CRS_RESTORE_TESTS}/evwake.c)
add_executable(restore_deleted_prog ${CRS_RESTORE_TESTS}/deleted.c)
add_executable(restore_memfd_prog ${CRS_RESTORE_TESTS}/memfd.c)
add_executable(restore_listen_prog ${CRS_RESTORE_TESTS}/listen.c)
add_executable(restore_attrs_prog ${CRS_RESTORE_TESTS}/attrs.c)
add_executable(restore_wipe_prog ${CRS_RESTORE_TESTS}/wipe.c)
add_executable(restore_advice_prog ${CRS_RESTORE_TESTS}/advice.c)
add_executable(restore_blocking_prog ${CRS_RESTORE_TESTS}/blocking.c)
target_link_libraries(restore_blocking_prog PRIVATE PkgConfig::URING Threads::Threads)
target_link_libraries(restore_attrs_prog PRIVATE Threads::Threads)
target_link_libraries(restore_listen_prog PRIVATE ${CMAKE_DL_LIBS})
target_link_libraries(restore_evwake PRIVATE Threads::Threads)
target_link_libraries(restore_fds PRIVATE ${CMAKE_DL_LIBS})
add_executable(restore_sockpair_prog ${CRS_RESTORE_TESTS}/sockpair.c)
target_link_libraries(restore_sockpair_prog PRIVATE ${CMAKE_DL_LIBS})
add_executable(restore_tids ${CRS_RESTORE_TESTS}/tids.c)
add_executable(restore_pids_prog ${CRS_RESTORE_TESTS}/pids.c)
target_link_libraries(restore_pids_prog PRIVATE Threads::Threads)
target_link_libraries(restore_tids PRIVATE Threads::Threads)
add_executable(restore_api_static ${CRS_RESTORE_TESTS}/api_static.c)
target_link_libraries(restore_api_static PRIVATE crsnap_static)

# Sanitized, the scripts skip everything but the checks that come before a restore.
function(crs_restore_test name script)
  crs_script_test(${name} ${CRS_RESTORE_TESTS} 120 ${script} ${ARGN})
endfunction()

crs_restore_test(restore_python program.sh python /usr/bin/python3
                 ${CRS_RESTORE_TESTS}/chain.py 8000000 @PROGRESS@)
crs_restore_test(restore_perl program.sh perl /usr/bin/perl
                 ${CRS_RESTORE_TESTS}/chain.pl 6000000 @PROGRESS@)
crs_restore_test(restore_vdso program.sh vdso $<TARGET_FILE:restore_vdso_clock> 12000000 @PROGRESS@)
crs_restore_test(restore_descriptors program.sh descriptors $<TARGET_FILE:restore_fds> @TMP@
                 3000000 @PROGRESS@)
# The eventfd counter is the one of the snapshot's instant, not of when the child got to it
# (the child is held back before it reads the descriptors, so that the taker runs first).
crs_restore_test(restore_eventfd_wake program.sh evwake $<TARGET_FILE:restore_evwake> 20000
                 @PROGRESS@)
set_property(TEST restore_eventfd_wake APPEND PROPERTY ENVIRONMENT "CRSNAP_TEST_FDS_DELAY_MS=100")
crs_restore_test(restore_deleted_files program.sh deleted $<TARGET_FILE:restore_deleted_prog>
                 @TMP@ 3000000 @PROGRESS@)
crs_restore_test(restore_deleted_too_big deleted_big.sh)
crs_restore_test(restore_memfd program.sh memfd $<TARGET_FILE:restore_memfd_prog> 3000000
                 @PROGRESS@)
crs_restore_test(restore_http_server http_server.sh)
crs_restore_test(restore_advice program.sh advice $<TARGET_FILE:restore_advice_prog> 3000000
                 @PROGRESS@)
crs_restore_test(restore_wipeonfork program.sh wipe $<TARGET_FILE:restore_wipe_prog> 3000000
                 @PROGRESS@)
crs_restore_test(restore_attributes program.sh attrs $<TARGET_FILE:restore_attrs_prog> 3000000
                 @PROGRESS@)
crs_restore_test(restore_blocking_calls blocking.sh $<TARGET_FILE:restore_blocking_prog>)
crs_restore_test(restore_listening program.sh listening $<TARGET_FILE:restore_listen_prog> @TMP@
                 3000000 @PROGRESS@)
add_executable(restore_ptimers_prog ${CRS_RESTORE_TESTS}/ptimers.c)
target_link_libraries(restore_ptimers_prog PRIVATE Threads::Threads)
crs_restore_test(restore_posix_timers ptimers.sh $<TARGET_FILE:restore_ptimers_prog>)
# five checkpoints and four restores, one as another user: slow on a loaded machine
set_tests_properties(restore_posix_timers PROPERTIES TIMEOUT 240)
add_executable(restore_sockmark_prog ${CRS_RESTORE_TESTS}/sockmark.c)
crs_restore_test(restore_sockopt_privilege sockmark.sh $<TARGET_FILE:restore_sockmark_prog>)
crs_restore_test(restore_socketpairs sockpair.sh $<TARGET_FILE:restore_sockpair_prog>)
crs_restore_test(restore_python_asyncio program.sh asyncio /usr/bin/python3
                 ${CRS_RESTORE_TESTS}/asyncio_wake.py 600000 @PROGRESS@)
# CPython's asyncio remembers the pid its event loop runs in (get_running_loop() fails in
# another pid, as after a fork): it restores with no option, under its pid
# (restore_same_pid_user does the same as an ordinary user).
crs_restore_test(restore_threads threads.sh $<TARGET_FILE:restore_mt_worker> 120000)
crs_restore_test(restore_again again.sh ${CRS_RESTORE_TESTS}/chain.py 8000000)
crs_restore_test(restore_again_threads again_threads.sh $<TARGET_FILE:restore_mt_worker> 120000)
crs_restore_test(restore_kill kill.sh $<TARGET_FILE:restore_mt_worker> 120000)
crs_restore_test(restore_child_crash crash.sh $<TARGET_FILE:restore_mt_worker> 120000)
crs_restore_test(restore_api_static api.sh $<TARGET_FILE:restore_api_static>)
crs_restore_test(restore_tty tty.sh ${CRS_RESTORE_TESTS}/chain.py)
crs_restore_test(restore_same_pid_user samepid_user.sh $<TARGET_FILE:restore_pids_prog>
                 ${CRS_RESTORE_TESTS}/asyncio_wake.py)
set_tests_properties(restore_same_pid_user PROPERTIES SKIP_RETURN_CODE 77)
crs_restore_test(restore_same_pid samepid.sh ${CRS_RESTORE_TESTS}/pid.py $<TARGET_FILE:restore_tids>)
crs_restore_test(restore_failures failures.sh $<TARGET_FILE:restore_mapfile>)
# a dozen restores, each reading the whole image: slow on a loaded machine
set_tests_properties(restore_failures PROPERTIES TIMEOUT 120)
add_executable(restore_sharedmap_prog ${CRS_RESTORE_TESTS}/sharedmap.c)
crs_restore_test(restore_sharedmap sharedmap.sh $<TARGET_FILE:restore_sharedmap_prog>)
# The pages decompressed on one thread (CRSNAP_RESTORE_THREADS=1) as well as on two (default).
crs_restore_test(restore_python_one_thread program.sh python1 /usr/bin/python3
                 ${CRS_RESTORE_TESTS}/chain.py 8000000 @PROGRESS@)
set_property(TEST restore_python_one_thread APPEND PROPERTY ENVIRONMENT CRSNAP_RESTORE_THREADS=1)
# At the restorer's limits: restore -n answers as the restore does.
add_executable(restore_limits_prog ${CRS_RESTORE_TESTS}/limits.c)
crs_restore_test(restore_limit_fds limits.sh $<TARGET_FILE:restore_limits_prog> fds)
crs_restore_test(restore_limit_noreserve limits.sh $<TARGET_FILE:restore_limits_prog> noreserve)

# What a checkpoint cannot bring back is logged, listed by info and said by restore; output
# files the restored program rewrites get no warning, files it reads do.
crs_restore_test(restore_unsaved unsaved.sh)
crs_restore_test(restore_unsaved_bash unsaved_bash.sh)
crs_restore_test(restore_changed_output changed.sh)

# Memory as it was: locks, guard regions, SysV and POSIX shared memory (memkinds.sh), as the
# user running the tests and as an unprivileged one, whose limits apply.
add_executable(restore_memlock_prog ${CRS_RESTORE_TESTS}/memlock.c)
foreach(who self user user-memlock)
  crs_restore_test(restore_memlock_${who} memkinds.sh ${who} memlock
                   $<TARGET_FILE:restore_memlock_prog> 3000000 @PROGRESS@ future)
endforeach()
# without MCL_FUTURE the locks read before the stop are the ones the image gets
crs_restore_test(restore_memlock_regions memkinds.sh self memlock
                 $<TARGET_FILE:restore_memlock_prog> 3000000 @PROGRESS@)
add_executable(restore_guard_prog ${CRS_RESTORE_TESTS}/guard.c)
target_link_libraries(restore_guard_prog PRIVATE Threads::Threads)
crs_restore_test(restore_guard_pages memkinds.sh self guard $<TARGET_FILE:restore_guard_prog>
                 3000000 @PROGRESS@)
add_executable(restore_sysvshm_prog ${CRS_RESTORE_TESTS}/sysvshm.c)
foreach(who self user)
  crs_restore_test(restore_sysvshm_${who} memkinds.sh ${who} sysv
                   $<TARGET_FILE:restore_sysvshm_prog> @TMP@ 3000000 @PROGRESS@)
endforeach()
add_executable(restore_shmobj_prog ${CRS_RESTORE_TESTS}/shmobj.c)
target_link_libraries(restore_shmobj_prog PRIVATE rt)
foreach(who self user)
  crs_restore_test(restore_shmobj_${who} memkinds.sh ${who} shm
                   $<TARGET_FILE:restore_shmobj_prog> @TMP@ 3000000 @PROGRESS@)
endforeach()
# Lazy restore: the restored process's memory after --lazy, the helper killed (SIGBUS), and the
# eager fallback of an unprivileged user.
add_executable(restore_lazy_prog ${CRS_RESTORE_TESTS}/lazy.c)
target_link_libraries(restore_lazy_prog PRIVATE Threads::Threads)
crs_restore_test(restore_lazy lazy.sh root $<TARGET_FILE:restore_lazy_prog>)
crs_restore_test(restore_lazy_helper_killed lazy.sh kill $<TARGET_FILE:restore_lazy_prog>)
crs_restore_test(restore_lazy_user lazy.sh user $<TARGET_FILE:restore_lazy_prog>)

# Incremental images (incr.sh): a chain restored whole, retention that keeps what kept images
# need, --full-every and CRSNAP_FULL_EVERY, a chain with a late reset; as the test's user and
# as an unprivileged one.
add_executable(restore_incr_prog ${CRS_RESTORE_TESTS}/incr.c)
target_link_libraries(restore_incr_prog PRIVATE Threads::Threads)
foreach(who self user)
  foreach(mode chain keep every late)
    crs_restore_test(restore_incr_${mode}_${who} incr.sh ${who} ${mode}
                     $<TARGET_FILE:restore_incr_prog>)
  endforeach()
endforeach()
