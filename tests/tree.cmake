# Jobs of several processes: unmodified programs that start others (a shell pipeline, a
# Python process pool, make -j2...) under `crsnap run`, checkpointed as one job, every
# process killed, the job restored; what it leaves must be the uninterrupted run's
# (tests/tree/*.sh).
set(CRS_TREE_DIR ${CMAKE_CURRENT_SOURCE_DIR}/tree)
foreach(t bash_pipeline pipe sockets zombie shared_memory pool make user image)
  crs_script_test(tree_${t} ${CRS_TREE_DIR} 180 ${t}.sh)
endforeach()
