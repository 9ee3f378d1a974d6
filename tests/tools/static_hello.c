/* tests/tools/static_hello.c - linked with -static, so `crsnap run` must refuse to preload it. */
#include <stdio.h>

int main(void)
{
    printf("hello from a static program\n");
    return 0;
}
