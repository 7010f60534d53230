//  placeholder so the library has a source until agt classes land
int ctl_placeholder (void);
int ctl_placeholder (void)
{
    return 0;
}
