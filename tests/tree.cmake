# Jobs of several processes: unmodified programs that start others (a shell pipeline, a
# Python process pool, make -j2...) under `crsnap run`, checkpointed as one job, every
# process killed, the job restored; what it leaves must be the uninterrupted run's
# (tests/tree/*.sh).
set(CRS_TREE_DIR ${CMAKE_CURRENT_SOURCE_DIR}/tree)
foreach(t bash_pipeline pipe sockets clean_env zombie shared_memory shm_named sysv memfd pool make user image)
  crs_script_test(tree_${t} ${CRS_TREE_DIR} 180 ${t}.sh)
endforeach()

# A job with a statically linked process (which cannot run the library), where libc.a is.
if(CRS_HAVE_STATIC_LIBC AND NOT CRSNAP_SANITIZE)
  add_executable(static_ticker ${CRS_TREE_DIR}/static_ticker.c)
  target_link_options(static_ticker PRIVATE -static)
  crs_script_test(tree_static ${CRS_TREE_DIR} 180 static.sh $<TARGET_FILE:static_ticker>)
endif()

# The program's fork() against the runtime's own descriptors (a test hook widens the window).
add_executable(fork_storm ${CRS_TREE_DIR}/fork_storm.c)
target_link_libraries(fork_storm PRIVATE Threads::Threads)
crs_script_test(tree_fork_storm ${CRS_TREE_DIR} 120 fork_storm.sh $<TARGET_FILE:fork_storm>)
