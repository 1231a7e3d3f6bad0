# short_run.cmake — one short libFuzzer run for the fuzz.short_* ctests:
#   cmake -DFUZZER=bin -DCORPUS=seeds -DWORK=dir -DSECONDS=n [-DDICT=file] -P short_run.cmake
# New inputs go to WORK/corpus (the checked-in corpus is only read); a crash, leak or timeout
# leaves its input in WORK/crashes/ and fails the test.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/crashes)
set(dict_arg "")
if(DICT)
  set(dict_arg -dict=${DICT})
endif()
execute_process(COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=10 -print_final_stats=1
                        -artifact_prefix=${WORK}/crashes/ ${dict_arg} ${WORK}/corpus ${CORPUS}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found ${WORK}/crashes/*)
  message(FATAL_ERROR "fuzzer exited with ${rc}; inputs: ${found}")
endif()
