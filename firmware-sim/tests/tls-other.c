/* The thread-locals tls-main.c declares extern: an initialised one and a zero one. */
__thread int other_file_value = -77;
_Thread_local char other_file_zero[7];
