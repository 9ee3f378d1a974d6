# Image tests: the snapshot child writes images of the test process itself (forked), the
# reader and `crsnap verify/info/ls` read them back; damaged images and write failures.
set(CRS_IMAGE_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/image)

function(crs_image_unit name)
  add_executable(${name} ${CRS_IMAGE_TESTS}/${name}.c ${CRS_IMAGE_TESTS}/image_test.c
                 ${CRS_IMAGE_OBJECTS})
  target_link_libraries(${name} PRIVATE PkgConfig::CMOCKA PkgConfig::URING PkgConfig::ZSTD
                        PkgConfig::XXHASH Threads::Threads)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${CRS_TEST_ENV}" TIMEOUT 60
                       SKIP_RETURN_CODE 77)
endfunction()

crs_image_unit(test_image_roundtrip)
crs_image_unit(test_image_failures)
crs_image_unit(test_image_damage)
crs_image_unit(test_image_release)
crs_image_unit(test_image_limits)
crs_image_unit(test_fdkinds)
crs_image_unit(test_image_window)
crs_image_unit(test_image_chain)
# it runs `crsnap restore -n` some forty times, on images of up to 56 MiB of descriptors
set_tests_properties(test_image_limits PROPERTIES TIMEOUT 180)
if(CRSNAP_SANITIZE)
  set_property(TEST test_image_limits APPEND PROPERTY ENVIRONMENT "CRSNAP_SANITIZED=1")
endif()

add_executable(image_make ${CRS_IMAGE_TESTS}/make_image.c ${CRS_IMAGE_TESTS}/image_test.c
               ${CRS_IMAGE_OBJECTS})
target_link_libraries(image_make PRIVATE PkgConfig::URING PkgConfig::ZSTD PkgConfig::XXHASH
                      Threads::Threads)
add_test(NAME image_tools COMMAND sh ${CRS_IMAGE_TESTS}/tools.sh $<TARGET_FILE:image_make>)
set_tests_properties(image_tools PROPERTIES ENVIRONMENT "${CRS_TEST_ENV}" TIMEOUT 60)

# A program built with AddressSanitizer that links the ordinary library: its snapshot child
# must leave the sanitizer's memory alone although the library was not built to know of it.
if(NOT CRSNAP_SANITIZE)
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS -fsanitize=address)
  set(CMAKE_REQUIRED_LINK_OPTIONS -fsanitize=address)
  check_c_source_compiles("int main(void) { return 0; }" CRS_HAVE_ASAN)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(CRS_HAVE_ASAN)
    add_executable(image_sanitized_app ${CRS_IMAGE_TESTS}/sanitized_app.c)
    target_compile_options(image_sanitized_app PRIVATE -fsanitize=address)
    target_link_options(image_sanitized_app PRIVATE -fsanitize=address)
    target_link_libraries(image_sanitized_app PRIVATE crsnap_shared)
    add_test(NAME image_sanitized_app
             COMMAND image_sanitized_app ${CMAKE_BINARY_DIR}/test-tmp/image-sanitized-app.crsnap)
    set_tests_properties(image_sanitized_app PROPERTIES TIMEOUT 60
                         ENVIRONMENT "${CRS_TEST_ENV};ASAN_OPTIONS=detect_leaks=0")
  endif()
endif()
