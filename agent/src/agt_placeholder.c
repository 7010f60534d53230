//  placeholder so the library has a source until agt classes land
int agt_placeholder (void);
int agt_placeholder (void)
{
    return 0;
}
