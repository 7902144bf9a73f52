#include <cstdio>
int main() { std::puts("adamas"); return 0; }
