# The image fuzzer: mutated images (checksums recomputed) through restore -n, info --json and
# verify. The suite runs a short, fixed run; longer runs by hand are described in
# tests/fuzz/fuzz_image.c.
set(CRS_FUZZ_TESTS ${CMAKE_CURRENT_LIST_DIR})

add_executable(fuzz_image ${CRS_FUZZ_TESTS}/fuzz_image.c ${CRS_IMAGE_OBJECTS})
target_link_libraries(fuzz_image PRIVATE PkgConfig::URING PkgConfig::ZSTD PkgConfig::XXHASH
                      Threads::Threads)
add_executable(fuzz_seed_prog ${CRS_FUZZ_TESTS}/seed_prog.c)
target_link_libraries(fuzz_seed_prog PRIVATE Threads::Threads)

add_test(NAME fuzz_image COMMAND sh ${CRS_FUZZ_TESTS}/fuzz.sh $<TARGET_FILE:fuzz_seed_prog>
         $<TARGET_FILE:image_make> $<TARGET_FILE:fuzz_image>)
set_tests_properties(fuzz_image PROPERTIES TIMEOUT 300 ENVIRONMENT
  "${CRS_TEST_ENV};FUZZ_ITERATIONS=200;FUZZ_STRICT=1;ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0")
# Under the sanitizers every command starts their runtime: fewer mutants, same checks.
if(CRSNAP_SANITIZE)
  set_property(TEST fuzz_image APPEND PROPERTY ENVIRONMENT "CRSNAP_SANITIZED=1"
               "FUZZ_ITERATIONS=100")
endif()
