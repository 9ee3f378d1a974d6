# Field tests: unmodified programs we did not write (interpreters, compressors, databases, the
# Node.js and Java runtimes), each run once for a reference, then under `crsnap run`,
# checkpointed partway through, SIGKILLed and restored; the restored process must finish with
# exactly the reference's output (tests/field/*.sh). A test whose program is not installed
# skips itself (77).
set(CRS_FIELD_DIR ${CMAKE_CURRENT_SOURCE_DIR}/field)
function(crs_field_test name script)
  add_test(NAME field_${name} COMMAND sh ${CRS_FIELD_DIR}/${script} ${ARGN})
  set_tests_properties(field_${name} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
    ENVIRONMENT "${CRS_TEST_ENV}")
  if(CRSNAP_SANITIZE)
    set_property(TEST field_${name} APPEND PROPERTY ENVIRONMENT "CRSNAP_SANITIZED=1")
  endif()
endfunction()

crs_field_test(python python.sh)
crs_field_test(python_pipes pipes.sh)
crs_field_test(perl perl.sh)
crs_field_test(bash bash.sh)
crs_field_test(mawk awk.sh mawk)
crs_field_test(tclsh tcl.sh)
crs_field_test(bc bc.sh)
crs_field_test(sha256sum sha256sum.sh)
crs_field_test(gzip compress.sh gzip)
crs_field_test(xz compress.sh xz)
crs_field_test(zstd compress.sh zstd)
crs_field_test(sort sort.sh)
crs_field_test(sqlite3 sqlite3.sh)
crs_field_test(sqlite3_sort sqlite3_sort.sh)
crs_field_test(node node.sh)
crs_field_test(java java.sh)
crs_field_test(gawk awk.sh gawk)
crs_field_test(lua lua.sh)
crs_field_test(jq jq.sh)
