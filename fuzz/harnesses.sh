# The harness table, sourced by scripts/fuzz.sh and oss-fuzz/build.sh (one
# place for the names, dictionaries and input sizes of docs/fuzzing.md).
# bash; defines fuzz_harnesses, fuzz_dict_of and fuzz_max_len_of.
fuzz_harnesses=(fuzz_record fuzz_record13 fuzz_hs_msg fuzz_hs13_msg fuzz_hs_ext fuzz_hs_reasm fuzz_hello_verifier fuzz_x509 fuzz_x509_chain
                fuzz_pem fuzz_key fuzz_engine_client fuzz_engine_server fuzz_io_cmsg fuzz_io_gro fuzz_hybrid_kex)

# the dictionary a harness runs with (a path in the source tree)
fuzz_dict_of() {
  case $1 in
    fuzz_x509*|fuzz_pem|fuzz_key) echo fuzz/x509.dict ;;
    fuzz_io_*) echo fuzz/io.dict ;;
    *) echo fuzz/dtls.dict ;;
  esac
}

# the largest input: an engine input holds a whole handshake (several
# flights, certificates), a chain up to ten certificates
fuzz_max_len_of() {
  case $1 in
    fuzz_engine_*) echo 32768 ;;
    fuzz_x509_chain|fuzz_hs_reasm) echo 16384 ;;
    fuzz_io_cmsg) echo 1024 ;;
    fuzz_io_gro) echo 70000 ;;
    *) echo 8192 ;;
  esac
}
